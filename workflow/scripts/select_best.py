"""Pick the best trial of a search by validation micro F1 (rule select_best)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import search
from drumscribe.errors import DrumscribeError

try:
    search.select_best(
        list(snakemake.input.metrics),
        out_json=snakemake.output.best,
    )
except DrumscribeError as error:
    sys.exit(str(error))
