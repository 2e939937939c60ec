# The dataset study's data that differs in kind (drumscribe.study_kinds): combinations naming a
# mixed kind (gmd_synth_pool: synthetic drums under the pool's real and realistic music;
# mdb_remix: the real songs' drums under their real stems, in song folds) train on audio mixed
# on the fly, one model per fold and seed; every combination of the study (cached ones too) is
# tested on the real songs in dataset_study.real_conditions through the robustness suite, each
# song by a model that never trained or validated on it.


rule train_combination:
    input:
        synth=kind_synth_input,
        pool="results/pool/pool.csv",
        best=kind_params_input,
    output:
        model="results/combinations/{combination}/{arch}/{fold}/s{seed}/model.pt",
        history="results/combinations/{combination}/{arch}/{fold}/s{seed}/history.csv",
        metrics="results/combinations/{combination}/{arch}/{fold}/s{seed}/metrics.json",
    wildcard_constraints:
        combination=kind_combination_regex(),
        fold=r"fold\d+|none",
        seed=r"\d+",
    log:
        "logs/train_combination/{combination}/{arch}/{fold}/s{seed}.log",
    benchmark:
        "benchmarks/train_combination/{combination}/{arch}/{fold}/s{seed}.tsv"
    params:
        synth=kind_synth_manifests,
        fold=kind_fold_songs,
        params=STUDY_KINDS_CONFIG["params"],
        training={**config["training"], **STUDY_KINDS_CONFIG["training"]},
        mixing={**config["mixing"], **STUDY_KINDS_CONFIG["mixing"]},
        features=config["features"],
        targets=config["targets"],
        peaks=config["peaks"],
        evaluation=result_evaluation(),
        mdb_root=dataset_root("mdb_drums"),
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime"],
        gpu=config["resources"]["train_gpus"],
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/train_combination.py"


# A kind combination's models of one seed on a rendered synthetic test split, on the
# transcription path (the models' input level normalisation applies), counts summed over folds.
rule evaluate_combination:
    input:
        models=kind_models,
        manifests=lambda wildcards: crossval_manifests(wildcards.test_dataset),
    output:
        metrics="results/eval_combinations/{combination}/{arch}/{test_dataset}/s{seed}/metrics.json",
    wildcard_constraints:
        combination=kind_combination_regex(),
        test_dataset=_names_regex(SYNTH_DATASETS),
        seed=r"\d+",
    log:
        "logs/evaluate_combination/{combination}/{arch}/{test_dataset}/s{seed}.log",
    benchmark:
        "benchmarks/evaluate_combination/{combination}/{arch}/{test_dataset}/s{seed}.tsv"
    params:
        root=lambda wildcards: f"results/audio/{wildcards.test_dataset}",
        splits=lambda wildcards: ds_config.test_splits(config, wildcards.test_dataset),
        window=config["evaluation"]["window"],
    threads: config["resources"]["eval_threads"]
    resources:
        mem_mb=config["resources"]["eval_mem_mb"],
        runtime=60,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/evaluate_combination.py"


# One seed of any combination of the study on the real songs in dataset_study.real_conditions
# (robustness.run_suite: each song by the fold model that never heard it).
rule evaluate_real:
    input:
        models=real_eval_models,
        data=robustness_data_input,
    output:
        long="results/eval_real/{combination}/{arch}/s{seed}/long.csv",
        metrics=expand("results/eval_real/{{combination}}/{{arch}}/s{{seed}}/{condition}.json",
                       condition=REAL_CONDITIONS),
    wildcard_constraints:
        combination=COMBINATION_REGEX,
        seed=r"\d+",
    log:
        "logs/evaluate_real/{combination}/{arch}/s{seed}.log",
    benchmark:
        "benchmarks/evaluate_real/{combination}/{arch}/s{seed}.tsv"
    params:
        models=real_eval_spec,
        conditions=REAL_CONDITIONS,
        songs=real_songs(),
        mdb_root=dataset_root("mdb_drums"),
        window=config["evaluation"]["window"],
    threads: config["robustness"]["threads"]
    resources:
        mem_mb=config["robustness"]["mem_mb"],
        runtime=config["robustness"]["runtime"],
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/evaluate_real.py"


# Every model of the dataset study and its synthetic test rows, without the real-song rows
# (what the GPU machine runs: config/presets/dataset_study_kinds_gpu.yaml).
rule dataset_study_models:
    input:
        dataset_study_trained,
