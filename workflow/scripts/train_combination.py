"""Train one fold and seed of a dataset-study combination with a mixed kind (rule train_combination)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines and per-epoch lines go to the log

from pathlib import Path

from drumscribe import crossval, study_kinds
from drumscribe.errors import DrumscribeError

try:
    params = snakemake.params.params
    if params is None:
        params = study_kinds.search_params(snakemake.input.best)
    study_kinds.train_combination(
        snakemake.wildcards.combination,
        snakemake.wildcards.arch,
        params,
        crossval.Fold(**snakemake.params.fold),
        int(snakemake.wildcards.seed),
        synth_dirs={d: [Path(p).parent for p in paths] for d, paths in snakemake.params.synth.items()},
        pool_dir=Path(snakemake.input.pool).parent,
        mdb_root=snakemake.params.mdb_root,
        out_model=snakemake.output.model,
        out_history=snakemake.output.history,
        out_metrics=snakemake.output.metrics,
        training=snakemake.params.training,
        mixing=snakemake.params.mixing,
        feature_config=snakemake.params.features,
        targets=snakemake.params.targets,
        peaks=snakemake.params.peaks,
        evaluation=snakemake.params.evaluation,
        threads=snakemake.threads,
    )
except DrumscribeError as error:
    sys.exit(str(error))
