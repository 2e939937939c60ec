# The two studies of the thesis. The architecture study is a checkpoint: its table
# names the best architecture, which the dataset study trains when
# dataset_study.architecture is 'best'.


checkpoint architecture_study:
    input:
        metrics=architecture_study_evals(),
    output:
        table=report(
            "results/architecture_table.csv",
            caption="../report/architecture_table.rst",
            category="Architecture study",
        ),
        long=report(
            "results/architecture_long.csv",
            caption="../report/architecture_long.rst",
            category="Architecture study",
        ),
        tracks="results/architecture_tracks.csv",
        plot=report(
            "results/plots/architecture_study.png",
            caption="../report/architecture_study.rst",
            category="Architecture study",
        ),
    log:
        "logs/architecture_study/study.log",
    params:
        datasets=DATASETS,
        zero_shot=EXTRA_TEST_DATASETS,
        bootstrap_samples=config["evaluation"]["bootstrap_samples"],
        note=ds_config.study_note(config),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/architecture_study.py"


rule dataset_study:
    input:
        metrics=dataset_study_evals,
        curves=dataset_study_curves,
    output:
        table=report(
            "results/dataset_table.csv",
            caption="../report/dataset_table.rst",
            category="Dataset study",
        ),
        long=report(
            "results/dataset_long.csv",
            caption="../report/dataset_long.rst",
            category="Dataset study",
        ),
        tracks="results/dataset_tracks.csv",
        pairs=report(
            "results/dataset_pairs.csv",
            caption="../report/dataset_pairs.rst",
            category="Dataset study",
        ),
        plot=report(
            "results/plots/dataset_study.png",
            caption="../report/dataset_study.rst",
            category="Dataset study",
        ),
    log:
        "logs/dataset_study/study.log",
    params:
        combinations=COMBINATIONS,
        test_datasets=STUDY_TEST_COLUMNS,
        bootstrap_samples=config["evaluation"]["bootstrap_samples"],
        note=dataset_study_note(),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/dataset_study.py"
