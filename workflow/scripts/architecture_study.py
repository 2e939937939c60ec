"""Architecture study: table, long table and bar plot (checkpoint architecture_study)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import studies
from drumscribe.errors import DrumscribeError

try:
    studies.architecture_study(
        metric_paths=list(snakemake.input.metrics),
        out_csv=snakemake.output.table,
        out_long=snakemake.output.long,
        out_png=snakemake.output.plot,
        out_tracks=snakemake.output.tracks,
        bootstrap_samples=snakemake.params.bootstrap_samples,
        note=snakemake.params.note,
        datasets=snakemake.params.datasets,
        zero_shot=snakemake.params.zero_shot,
    )
except DrumscribeError as error:
    sys.exit(str(error))
