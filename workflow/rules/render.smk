# The offline default: the Groove MIDI Dataset rendered through real sampled kits,
# one job per (dataset, kit) so kits render side by side. gmd_synth is drums only;
# gmd_synth_mix adds a generated, tempo-aligned accompaniment.


rule render_kit:
    input:
        render_gmd_input,
    output:
        manifest="results/audio/{dataset}/{kit}/manifest.csv",
    log:
        "logs/render_kit/{dataset}/{kit}.log",
    benchmark:
        "benchmarks/render_kit/{dataset}/{kit}.tsv"
    params:
        gmd_root=lambda wildcards: dataset_root(wildcards.dataset),
        out_dir=lambda wildcards, output: str(Path(output.manifest).parent.parent),
        mix=lambda wildcards: wildcards.dataset == "gmd_synth_mix",
        kits=lambda wildcards: render_kits(wildcards.dataset),
        render=config["render"],
    threads: config["resources"]["render_threads"]
    resources:
        mem_mb=2000,
        runtime=120,
    wildcard_constraints:
        dataset="|".join(SYNTH_DATASETS),
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/render_kit.py"
