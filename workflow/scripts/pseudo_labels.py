"""A fold's teacher labels the pool's unlabelled real music (rule pseudo_labels)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines (and progress) go to the log

from pathlib import Path

from drumscribe import pseudo
from drumscribe.errors import DrumscribeError

try:
    pseudo.pseudo_labels(
        teacher=snakemake.input.teacher,
        pool_dir=Path(snakemake.input.pool).parent,
        out_json=snakemake.output[0],
        threads=snakemake.threads,
    )
except DrumscribeError as error:
    sys.exit(str(error))
