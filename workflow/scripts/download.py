"""Fetch one raw dataset into resources/<key> (rule download)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe.datasets.download import download
from drumscribe.errors import DrumscribeError

try:
    download(snakemake.wildcards.dataset, snakemake.output[0], cache_dir=snakemake.params.cache)
except DrumscribeError as error:
    print(error, file=sys.__stderr__)
    sys.exit(str(error))
