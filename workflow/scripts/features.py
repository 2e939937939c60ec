"""Build the HDF5 feature cache of one dataset (rule features)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from pathlib import Path

from drumscribe import cache, datasets, features
from drumscribe.errors import DrumscribeError

try:
    dataset = snakemake.wildcards.dataset
    cache.features(
        datasets.get(dataset).tracks(Path(snakemake.params.root)),
        snakemake.output.h5,
        features.FeatureConfig.from_dict(dict(snakemake.params.features)),
        name=dataset,
        threads=max(1, int(snakemake.threads or 1)),  # processes computing the spectrograms
        level_db=snakemake.params.input_level_db,
    )
except DrumscribeError as error:
    sys.exit(str(error))
