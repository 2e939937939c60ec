"""Copy the released model into place and write its model card (rule release_card)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import release
from drumscribe.errors import DrumscribeError

try:
    release.release_card(
        model=snakemake.input.model,
        train_metrics=snakemake.input.train_metrics,
        test_metrics=dict(zip(snakemake.params.test_datasets, snakemake.input.metrics)),
        out_model=snakemake.output.model,
        out_card=snakemake.output.card,
        config=snakemake.config,
        command=snakemake.params.command,
    )
except DrumscribeError as error:
    sys.exit(str(error))
