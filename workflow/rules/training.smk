# Hyperparameter search as jobs: every trial of a search is its own job (FIFO, run to
# its end), so --cores N or a cluster runs trials side by side and a stopped search
# resumes trial by trial. {dataset} may join datasets with '+': trained on the union
# of their train splits, validated on the union of their validation splits.
# train_seed retrains a search's winner with seed k (evaluation.seeds; seed 0 = the trial).


rule train_trial:
    input:
        features=train_features,
    output:
        model="results/trials/{dataset}/{arch}/{trial}/model.pt",
        history="results/trials/{dataset}/{arch}/{trial}/history.csv",
        metrics="results/trials/{dataset}/{arch}/{trial}/metrics.json",
    log:
        "logs/train_trial/{dataset}/{arch}/{trial}.log",
    benchmark:
        "benchmarks/train_trial/{dataset}/{arch}/{trial}.tsv"
    params:
        params=trial_params,
        training=result_training(),
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


rule train_seed:
    input:
        best="results/search/{dataset}/{arch}/best.json",
        features=train_features,
    output:
        model="results/seeds/{dataset}/{arch}/s{seed}/model.pt",
        history="results/seeds/{dataset}/{arch}/s{seed}/history.csv",
        metrics="results/seeds/{dataset}/{arch}/s{seed}/metrics.json",
    log:
        "logs/train_seed/{dataset}/{arch}/s{seed}.log",
    benchmark:
        "benchmarks/train_seed/{dataset}/{arch}/s{seed}.tsv"
    params:
        training=config["training"],
        targets=config["targets"],
        peaks=config["peaks"],
        evaluation=config["evaluation"],
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime"],
        gpu=config["resources"]["train_gpus"],
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/train_seed.py"


rule select_best:
    input:
        metrics=search_metrics,
    output:
        best="results/search/{dataset}/{arch}/best.json",
    log:
        "logs/select_best/{dataset}/{arch}.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/select_best.py"


rule training_curves:
    input:
        best="results/search/{dataset}/{arch}/best.json",
        histories=search_histories,
    output:
        plot=report(
            "results/plots/curves/{dataset}_{arch}.png",
            caption="../report/training_curves.rst",
            category="Training curves",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "architecture": "{arch}"},
        ),
    log:
        "logs/training_curves/{dataset}_{arch}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/training_curves.py"
