# drumscribe: raw drum datasets -> features -> hyperparameter searches -> both studies.
# This file is the table of contents; the logic of the graph is in workflow/rules/common.smk,
# the logic of each stage in src/drumscribe/. docs/workflow.md walks through the graph.
from snakemake.utils import min_version

min_version("9.0")


# relative to this file, so `--directory elsewhere` runs read the same defaults
configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/render.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/study_kinds.smk"
include: "workflow/rules/release.smk"
include: "workflow/rules/crossval.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/robustness.smk"


rule all:
    input:
        get_final_output(),
    default_target: True
