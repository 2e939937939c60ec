# The best trial of a search on the test split(s) of a dataset, with the per-class
# thresholds it tuned on its own validation split. Predictions are kept per track
# (JSON onsets), so tables can be recomputed without the model.


rule evaluate:
    input:
        best="results/search/{dataset}/{arch}/best.json",
        models=search_models,
        h5=test_features,
    output:
        metrics="results/eval/{dataset}/{arch}/{test_dataset}/metrics.json",
        predictions=directory("results/eval/{dataset}/{arch}/{test_dataset}/predictions"),
    log:
        "logs/evaluate/{dataset}/{arch}/{test_dataset}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}/{arch}/{test_dataset}.tsv"
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


# A seed run of the winner (train_seed) on the same test sets, beside the trial's result.
rule evaluate_seed:
    input:
        model="results/seeds/{dataset}/{arch}/s{seed}/model.pt",
        h5=test_features,
    output:
        metrics="results/eval/{dataset}/{arch}/{test_dataset}/s{seed}/metrics.json",
        predictions=directory("results/eval/{dataset}/{arch}/{test_dataset}/s{seed}/predictions"),
    log:
        "logs/evaluate_seed/{dataset}/{arch}/{test_dataset}/s{seed}.log",
    benchmark:
        "benchmarks/evaluate_seed/{dataset}/{arch}/{test_dataset}/s{seed}.tsv"
    params:
        splits=test_splits,
        evaluation=config["evaluation"],
        targets=config["targets"],
    threads: config["resources"]["eval_threads"]
    resources:
        mem_mb=config["resources"]["eval_mem_mb"],
        runtime=60,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/evaluate.py"
