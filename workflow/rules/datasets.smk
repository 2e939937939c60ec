# A look at the data before any training: tracks, hours, datapoints and onsets per
# class of every dataset and split, the class balance, and one MDB dev track's
# spectrogram with its targets.


rule dataset_summary:
    input:
        summary_input,
    output:
        summary=report(
            "results/datasets/summary.csv",
            caption="../report/dataset_summary.rst",
            category="Datasets",
        ),
        plot=report(
            "results/plots/class_balance.png",
            caption="../report/class_balance.rst",
            category="Datasets",
        ),
    log:
        "logs/dataset_summary/summary.log",
    params:
        datapoint_frames=config["targets"]["datapoint_frames"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/dataset_summary.py"


rule dataset_example:
    input:
        h5="results/features/{test_dataset}.h5",
    output:
        plot=report(
            "results/plots/{test_dataset}_example.png",
            caption="../report/dataset_example.rst",
            category="Datasets",
        ),
    log:
        "logs/dataset_example/{test_dataset}.log",
    params:
        widen=config["targets"]["widen"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/drumscribe.yaml"
    wildcard_constraints:
        test_dataset=_SINGLE,
    script:
        "../scripts/dataset_example.py"
