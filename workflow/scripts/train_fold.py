"""Train one fold's model on audio mixed on the fly, with real validation (rule train_fold)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines and per-epoch lines go to the log

from pathlib import Path

from drumscribe import crossval
from drumscribe.errors import DrumscribeError

try:
    crossval.train_fold(
        arch=snakemake.params.arch,
        params=snakemake.params.params,
        fold=crossval.Fold(**snakemake.params.fold),
        synth_dirs=[Path(p).parent for p in snakemake.input.synth],
        mix_dirs=[Path(p).parent for p in snakemake.input.mix],
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
        init_from=snakemake.params.init_from,
        pseudo_labels=snakemake.input.pseudo_labels or None,
    )
except DrumscribeError as error:
    sys.exit(str(error))
