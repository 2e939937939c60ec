"""Assign GMD performances to kits, once per dataset (rule assign_kits)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import synth
from drumscribe.errors import DrumscribeError

try:
    synth.assign_kits(
        gmd_root=snakemake.params.gmd_root,
        kits=snakemake.params.kits,
        render=snakemake.params.render,
        out_csv=snakemake.output.assignments,
    )
except DrumscribeError as error:
    sys.exit(str(error))
