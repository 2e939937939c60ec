# The released model (`snakemake --cores N release`): config.release's architecture and
# parameters trained on config.release's datasets, thresholds tuned on their
# validation splits, tested on their test splits and on the zero-shot test sets,
# written with a model card.


rule release_train:
    input:
        features=expand("results/features/{dataset}.h5", dataset=config["release"]["datasets"]),
    output:
        model="results/release/train/model.pt",
        history="results/release/train/history.csv",
        metrics="results/release/train/metrics.json",
    log:
        "logs/release_train/train.log",
    benchmark:
        "benchmarks/release_train/train.tsv"
    params:
        arch=config["release"]["architecture"],
        params=config["release"]["params"],
        training=result_training(config["release"].get("training")),
        targets=config["targets"],
        peaks=result_peaks(),
        evaluation=result_evaluation(),
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime"],
        gpu=config["resources"]["train_gpus"],
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/train_trial.py"


rule release_evaluate:
    input:
        model="results/release/train/model.pt",
        h5=test_features,
    output:
        metrics="results/release/eval/{test_dataset}/metrics.json",
        predictions=directory("results/release/eval/{test_dataset}/predictions"),
    log:
        "logs/release_evaluate/{test_dataset}.log",
    params:
        splits=test_splits,
        evaluation=result_evaluation(),
    threads: config["resources"]["eval_threads"]
    resources:
        mem_mb=config["resources"]["eval_mem_mb"],
        runtime=60,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/evaluate.py"


rule release_card:
    input:
        model="results/release/train/model.pt",
        train_metrics="results/release/train/metrics.json",
        metrics=release_evals,
    output:
        model="results/release/drumscribe-default.pt",
        card=report(
            "results/release/MODEL_CARD.md",
            caption="../report/model_card.rst",
            category="Release",
        ),
    log:
        "logs/release_card/card.log",
    params:
        test_datasets=RELEASE_TEST_DATASETS,
        command=release_command(),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/release_card.py"


rule release:
    input:
        "results/release/drumscribe-default.pt",
        "results/release/MODEL_CARD.md",
