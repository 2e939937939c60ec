"""A kind combination's fold models on a synthetic test split, transcription path (rule evaluate_combination)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines go to the log

from drumscribe import study_kinds
from drumscribe.errors import DrumscribeError

try:
    study_kinds.evaluate_combination(
        models=list(snakemake.input.models),
        root=snakemake.params.root,
        test_dataset=snakemake.wildcards.test_dataset,
        splits=snakemake.params.splits,
        combination=snakemake.wildcards.combination,
        arch=snakemake.wildcards.arch,
        seed=int(snakemake.wildcards.seed),
        out_metrics=snakemake.output.metrics,
        window=snakemake.params.window,
        threads=snakemake.threads,
    )
except DrumscribeError as error:
    sys.exit(str(error))
