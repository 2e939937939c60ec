# The offline default: the Groove MIDI Dataset rendered through real sampled kits.
# The kit assignment is computed once per dataset (so every job, on any host, renders
# the same performances), then one job per (dataset, kit) renders, kits side by side.
# gmd_synth is drums only; gmd_synth_mix adds a generated, tempo-aligned accompaniment.


rule assign_kits:
    input:
        render_gmd_input,
    output:
        assignments="results/audio/{dataset}/assignments.csv",
    log:
        "logs/assign_kits/{dataset}.log",
    params:
        gmd_root=lambda wildcards: dataset_root(wildcards.dataset),
        kits=lambda wildcards: render_kits(wildcards.dataset),
        render=config["render"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    wildcard_constraints:
        dataset="|".join(SYNTH_DATASETS),
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/assign_kits.py"


rule render_kit:
    input:
        gmd=render_gmd_input,
        assignments="results/audio/{dataset}/assignments.csv",
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
