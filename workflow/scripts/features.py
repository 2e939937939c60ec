"""Build the HDF5 feature cache of one dataset (rule features)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import experiment
from drumscribe.errors import DrumscribeError

try:
    experiment.build_features(
        dataset=snakemake.wildcards.dataset,
        root=snakemake.params.root,
        out_h5=snakemake.output.h5,
        features=snakemake.params.features,
        threads=snakemake.threads,
    )
except DrumscribeError as error:
    sys.exit(str(error))
