# The robustness suite (docs/robustness.md): each model of config robustness.models on the
# MDB songs' real drum stems and real accompaniment, in the conditions real records have
# (mixes at real ratios, band limits, lossy codecs, mastering, reverb, extreme levels).


rule robustness:
    input:
        models=robustness_model_files,
        data=robustness_data_input,
    output:
        table=report(
            "results/robustness/{model}.csv",
            caption="../report/robustness_table.rst",
            category="Robustness",
        ),
        long=report(
            "results/robustness/{model}_long.csv",
            caption="../report/robustness_long.rst",
            category="Robustness",
        ),
        plot=report(
            "results/plots/robustness_{model}.png",
            caption="../report/robustness.rst",
            category="Robustness",
        ),
    log:
        "logs/robustness/{model}.log",
    benchmark:
        "benchmarks/robustness/{model}.tsv"
    params:
        models=robustness_models,
        mdb_root=dataset_root("mdb_drums"),
        conditions=config["robustness"]["conditions"],
        tracks=config["robustness"]["tracks"],
        window=config["evaluation"]["window"],
    threads: config["robustness"]["threads"]
    resources:
        mem_mb=config["robustness"]["mem_mb"],
        runtime=config["robustness"]["runtime"],
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/robustness.py"
