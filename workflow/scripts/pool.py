"""Build the accompaniment pool: results/pool/pool.csv + its audio (rule pool)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines (and progress) go to the log

from drumscribe import pool
from drumscribe.errors import DrumscribeError

try:
    pool.pool(
        snakemake.params.pool,
        out_csv=snakemake.output.pool,
        mdb_root=snakemake.params.mdb_root,
        pop909_root=snakemake.params.pop909_root,
        progress=False,
    )
except DrumscribeError as error:
    sys.exit(str(error))
