"""One seed of a dataset-study combination on the real songs, robustness conditions (rule evaluate_real)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines (and progress) go to the log

from drumscribe import evaluation, study_kinds
from drumscribe.errors import DrumscribeError

try:
    models = snakemake.params.models
    if isinstance(models, str) and models.endswith(".json"):
        models = str(evaluation.best_model(models))  # a search's winner (seed 0 of a cached combination)
    conditions = list(snakemake.params.conditions)
    study_kinds.evaluate_real(
        models=models,
        mdb_root=snakemake.params.mdb_root,
        conditions=conditions,
        combination=snakemake.wildcards.combination,
        arch=snakemake.wildcards.arch,
        seed=int(snakemake.wildcards.seed),
        out_long=snakemake.output.long,
        out_metrics=dict(zip(conditions, snakemake.output.metrics)),
        window=snakemake.params.window,
        threads=snakemake.threads,
        tracks=list(snakemake.params.songs),
    )
except DrumscribeError as error:
    sys.exit(str(error))
