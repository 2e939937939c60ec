"""Plot the training curves of a search's best trial (rule training_curves)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import plotting
from drumscribe.errors import DrumscribeError

try:
    plotting.training_curves(
        best_json=snakemake.input.best,
        out_png=snakemake.output.plot,
        title=f"{snakemake.wildcards.arch} on {snakemake.wildcards.dataset}",
    )
except DrumscribeError as error:
    sys.exit(str(error))
