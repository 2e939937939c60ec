"""Plot one track's spectrogram and targets (rule dataset_example)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import plotting
from drumscribe.errors import DrumscribeError

try:
    plotting.dataset_example(
        h5_path=snakemake.input.h5,
        out_png=snakemake.output.plot,
        widen=snakemake.params.widen,
    )
except DrumscribeError as error:
    sys.exit(str(error))
