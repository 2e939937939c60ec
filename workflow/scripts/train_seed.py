"""Retrain a search's winner with another seed (rule train_seed)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines (and progress) go to the log

from drumscribe import trial
from drumscribe.errors import DrumscribeError

try:
    trial.train_seed(
        best_json=snakemake.input.best,
        seed=int(snakemake.wildcards.seed),
        train_h5s=list(snakemake.input.features),
        out_model=snakemake.output.model,
        out_history=snakemake.output.history,
        out_metrics=snakemake.output.metrics,
        training=snakemake.params.training,
        targets=snakemake.params.targets,
        peaks=snakemake.params.peaks,
        evaluation=snakemake.params.evaluation,
        threads=snakemake.threads,
    )
except DrumscribeError as error:
    sys.exit(str(error))
