# Training on audio mixed and degraded on the fly (drumscribe.mixing), in song-level folds
# over the real songs (drumscribe.crossval): fold<k> tests on its songs and never hears them
# in training; `release` validates on two songs and trains on the others. Thresholds and the
# kept epoch come from a real validation set (the validation songs under the robustness
# suite's conditions, plus synthetic validation tracks), computed on `drumscribe transcribe`'s
# inference path.


rule train_fold:
    input:
        synth=crossval_manifests("gmd_synth"),
        mix=crossval_manifests("gmd_synth_mix"),
        pool="results/pool/pool.csv",
        init=crossval_init_input,
        pseudo_labels=pseudo_labels_input,
    output:
        model="results/crossval/{fold}/model.pt",
        history="results/crossval/{fold}/history.csv",
        metrics="results/crossval/{fold}/metrics.json",
    log:
        "logs/train_fold/{fold}.log",
    benchmark:
        "benchmarks/train_fold/{fold}.tsv"
    params:
        fold=fold_songs,
        arch=config["crossval"]["architecture"],
        params=ds_config.arch_params(config["crossval"]["architecture"], config["crossval"]["params"], "crossval.params"),
        training={**config["training"], **config["crossval"].get("training", {})},
        mixing=config["mixing"],
        features=config["features"],
        targets=config["targets"],
        peaks=config["peaks"],
        evaluation=config["evaluation"],
        mdb_root=dataset_root("mdb_drums"),
        init_from=crossval_init_from,
    threads: config["resources"]["train_threads"]
    resources:
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime"],
        gpu=config["resources"]["train_gpus"],
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/train_fold.py"


rule pseudo_labels:
    input:
        teacher=pseudo_teacher,
        pool="results/pool/pool.csv",
    output:
        "results/crossval/{fold}/pseudo_labels.json",
    log:
        "logs/pseudo_labels/{fold}.log",
    benchmark:
        "benchmarks/pseudo_labels/{fold}.tsv"
    threads: config["resources"]["eval_threads"]
    resources:
        mem_mb=config["resources"]["eval_mem_mb"],
        runtime=60,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/pseudo_labels.py"


rule crossval:
    input:
        expand("results/crossval/{fold}/model.pt", fold=FOLD_NAMES),


rule crossval_card:
    input:
        model=project_file(config["crossval"]["card"]["model"]),
        metrics=project_file(config["crossval"]["card"]["metrics"]),
        robustness="results/robustness/cv.csv",
        baseline=f"results/robustness/{config['crossval']['card']['baseline']}.csv",
        peer=project_file(config["crossval"]["card"]["peer"]),
    output:
        card=report(
            "results/crossval/MODEL_CARD.md",
            caption="../report/crossval_card.rst",
            category="Release",
        ),
    log:
        "logs/crossval_card/card.log",
    params:
        command=config["crossval"]["card"]["command"],
        name=config["crossval"]["card"]["name"],
        baseline_name=config["crossval"]["card"]["baseline_name"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/crossval_card.py"
