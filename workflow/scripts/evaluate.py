"""Test a model on a dataset's test split(s) (rules evaluate and release_evaluate)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import evaluation
from drumscribe.errors import DrumscribeError

try:
    evaluation.evaluate(
        model=snakemake.input.get("model") or snakemake.input.best,
        h5_paths=list(snakemake.input.h5),
        splits=snakemake.params.splits,
        test_dataset=snakemake.wildcards.test_dataset,
        out_metrics=snakemake.output.metrics,
        out_predictions=snakemake.output.predictions,
        window=snakemake.params.evaluation["window"],
        threads=snakemake.threads,
    )
except DrumscribeError as error:
    sys.exit(str(error))
