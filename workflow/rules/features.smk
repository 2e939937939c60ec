# Spectrograms and onsets of every track of a dataset in one HDF5 cache
# (layout in docs/architecture.md), with normalisation statistics of the train split.


rule features:
    input:
        features_input,
    output:
        h5="results/features/{dataset}.h5",
    log:
        "logs/features/{dataset}.log",
    benchmark:
        "benchmarks/features/{dataset}.tsv"
    params:
        root=features_root,
        features=config["features"],
        # every track's audio brought to this gated RMS level before its spectrogram, as
        # transcription does for the models trained on it (a changed level rebuilds the caches)
        input_level_db=INPUT_LEVEL_DB,
    threads: config["resources"]["features_threads"]
    resources:
        mem_mb=4000,
        runtime=240,
    wildcard_constraints:
        dataset=_SINGLE,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/features.py"
