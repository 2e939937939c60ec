"""Train one trial (rules train_trial and release_train), thresholds tuned on validation."""
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from drumscribe import logs

logs.setup(snakemake)  # started/ended lines, progress and per-epoch lines go to the log

from drumscribe import config as ds_config, trial
from drumscribe.errors import DrumscribeError

try:
    # params hold what the trial's outputs depend on; how it runs (device, workers) and the
    # default-threshold diagnostic come from the config, so changing them replans nothing
    config = snakemake.config
    runtime = ds_config.runtime_training(config, release=snakemake.rule == "release_train")
    trial.train_trial(
        arch=snakemake.params.get("arch") or snakemake.wildcards.arch,
        params=snakemake.params.params,
        train_h5s=list(snakemake.input.features),
        out_model=snakemake.output.model,
        out_history=snakemake.output.history,
        out_metrics=snakemake.output.metrics,
        training={**snakemake.params.training, **runtime},
        targets=snakemake.params.targets,
        peaks={**snakemake.params.peaks, "default_threshold": config["peaks"]["default_threshold"]},
        evaluation=snakemake.params.evaluation,
        threads=snakemake.threads,
    )
except DrumscribeError as error:
    sys.exit(str(error))
