"""The robustness suite of one model of config robustness.models (rule robustness)."""
import logging
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines (and progress) go to the log
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

from drumscribe import robustness
from drumscribe.errors import DrumscribeError

try:
    robustness.robustness(
        models=snakemake.params.models,
        mdb_root=snakemake.params.mdb_root,
        out_long_csv=snakemake.output.long,
        out_wide_csv=snakemake.output.table,
        out_png=snakemake.output.plot,
        conditions=snakemake.params.conditions,
        tracks=snakemake.params.tracks,
        threads=snakemake.threads,
        window=snakemake.params.window,
        title=f"Robustness suite: {snakemake.wildcards.model} ({robustness.model_label(snakemake.params.models)})",
    )
except DrumscribeError as error:
    sys.exit(str(error))
