# The accompaniment pool (docs/pool.md): real and realistic drumless music, the MDB dev
# songs' real stems and drums, and room impulse responses, as one small folder of mono
# Ogg Vorbis files + pool.csv (+ rirs.npz) that travels to a GPU machine. Training mixes
# drums with it on the fly; it is not part of `rule all` (training asks for it).


rule pool:
    input:
        pool_inputs,
    output:
        pool="results/pool/pool.csv",
    log:
        "logs/pool/pool.log",
    benchmark:
        "benchmarks/pool/pool.tsv"
    params:
        pool=config["pool"],
        mdb_root=pool_mdb_root,
        pop909_root=pool_pop909_root,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/drumscribe.yaml"
    script:
        "../scripts/pool.py"
