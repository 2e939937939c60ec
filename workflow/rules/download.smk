# Downloads of the raw datasets (thin: the logic is drumscribe.datasets.download.download).
#
# The dataset root is decided in common.smk by `dataset_root(name)`: config paths.<key> when that
# path exists (used as is, no network), else resources/<key>. This rule is only ever asked for
# when the configured path does not exist: `raw_dataset_input(name)` in common.smk returns
# `download_target(key)` (common.smk) only then. {dataset} here is the config paths key (`gmd` for
# gmd_synth and gmd_synth_mix, else the dataset's name).
# A failed checksum or an interrupted download leaves no resources/<key>/ (archives are kept,
# partially or whole, in resources/.downloads/<key>/ so a rerun resumes).

# Compute nodes of a cluster often have no internet: downloads run where Snakemake runs.
localrules:
    download,


rule download:
    output:
        directory("resources/{dataset}"),
    log:
        "logs/download/{dataset}.log",
    benchmark:
        "benchmarks/download/{dataset}.tsv"
    params:
        cache=lambda wildcards: f"resources/.downloads/{wildcards.dataset}",
    resources:
        downloads=1,  # `--resources downloads=N` caps parallel downloads
    wildcard_constraints:
        dataset="|".join(DOWNLOAD_KEYS),
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/download.py"
