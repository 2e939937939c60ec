"""Summarise every dataset per split and plot the class balance (rule dataset_summary)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import plotting
from drumscribe.errors import DrumscribeError

try:
    plotting.dataset_summary(
        h5_paths=list(snakemake.input),
        out_csv=snakemake.output.summary,
        out_png=snakemake.output.plot,
        datapoint_frames=snakemake.params.datapoint_frames,
    )
except DrumscribeError as error:
    sys.exit(str(error))
