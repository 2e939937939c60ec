"""Render the Groove MIDI Dataset through one kit (rule render_kit)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import synth
from drumscribe.errors import DrumscribeError

try:
    synth.render_kit(
        kit=snakemake.wildcards.kit,
        assignments=snakemake.input.assignments,
        gmd_root=snakemake.params.gmd_root,
        out_dir=snakemake.params.out_dir,
        mix=snakemake.params.mix,
        render=snakemake.params.render,
    )
except DrumscribeError as error:
    sys.exit(str(error))
