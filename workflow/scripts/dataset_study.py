"""Dataset study: zero-shot matrix, long, tracks and pairs tables and heatmap (rule dataset_study)."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import studies
from drumscribe.errors import DrumscribeError

try:
    studies.dataset_study(
        metric_paths=list(snakemake.input.metrics),
        out_csv=snakemake.output.table,
        out_long=snakemake.output.long,
        out_png=snakemake.output.plot,
        out_tracks=snakemake.output.tracks,
        out_pairs=snakemake.output.pairs,
        bootstrap_samples=snakemake.params.bootstrap_samples,
        note=snakemake.params.note,
        combinations=snakemake.params.combinations,
        test_datasets=snakemake.params.test_datasets,
    )
except DrumscribeError as error:
    sys.exit(str(error))
