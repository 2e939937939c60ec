"""The model card of the release fold's model with the fold models' robustness table (rule crossval_card)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines and per-epoch lines go to the log

import datetime
from pathlib import Path

from drumscribe import crossval
from drumscribe.errors import DrumscribeError

try:
    crossval.crossval_card(
        model=snakemake.input.model,
        train_metrics=snakemake.input.metrics,
        robustness_csv=snakemake.input.robustness,
        baseline_csv=snakemake.input.baseline,
        peer_csv=snakemake.input.peer,
        name=snakemake.params.name,
        baseline_name=snakemake.params.baseline_name,
        out_md=snakemake.output.card,
        command=snakemake.params.command,
        project_root=Path(snakemake.scriptdir).resolve().parents[1],  # the project (workflow/scripts/..): paths under it shown relative to it
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
except DrumscribeError as error:
    sys.exit(str(error))
