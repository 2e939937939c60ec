# The logic of the graph: config validation, the dataset/architecture/trial tables,
# wildcard constraints and every input function. Rules compute no paths inline.
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from drumscribe import config as ds_config, robustness, studies
from drumscribe.audio import INPUT_LEVEL_DB
from drumscribe.errors import DrumscribeError


def fail(message):
    """Stop before any job runs with one line on stderr and exit status 1."""
    sys.exit(f"drumscribe: {message}")


PROJECT_ROOT = Path(workflow.basedir)  # config paths may be relative to it
#: the folder download.smk fills with a raw dataset (resources/<config paths key>)
DOWNLOAD_DIR = "resources"


def dataset_root(name):
    """The folder a dataset is read from: ``paths.<key>`` if it exists (looked up here and
    under the Snakefile's folder), else resources/<key>, which the download rule fills."""
    return ds_config.configured_root(config, name, PROJECT_ROOT) or download_target(ds_config.path_key(name))


def download_target(key):
    """The folder the download rule (download.smk) fills for a config paths key."""
    return f"{DOWNLOAD_DIR}/{key}"


# ---- validation: the schema once (fills defaults), then drumscribe's own checks ----
try:
    validate(config, schema="../schemas/config.schema.yaml")
except WorkflowError as error:
    fail(ds_config.schema_error_message(error))

try:
    ds_config.check_config(config)
    ds_config.check_paths(config, PROJECT_ROOT, download_dir=DOWNLOAD_DIR)
    robustness.check_config(config["robustness"], dataset_root("mdb_drums"))
except DrumscribeError as error:
    fail(error)


# ---- the tables of the graph ----
# the conda env's post-deploy script installs this checkout (envs/drumscribe.post-deploy.sh)
os.environ.setdefault("DRUMSCRIBE_ROOT", str(PROJECT_ROOT))

# Light rules (seconds, one core) run where Snakemake runs, not as cluster jobs: on Slurm
# each job costs ~7 s of start-up and a place in the queue.
localrules:
    assign_kits,
    select_best,
    training_curves,
    architecture_study,
    dataset_study,
    dataset_summary,
    dataset_example,
    release_card,
    crossval_card,

ARCHITECTURES = list(config["architectures"])
DATASETS = list(config["datasets"])  # architecture study: trained and tested on each
EXTRA_TEST_DATASETS = list(config["evaluation"]["extra_test_datasets"])  # zero-shot only
COMBINATIONS = ["+".join(c) for c in config["dataset_study"]["train_combinations"]]
STUDY_TEST_DATASETS = list(config["dataset_study"]["test_datasets"])
RELEASE_TEST_DATASETS = ds_config.release_test_datasets(config)
SYNTH_DATASETS = ds_config.SYNTH_DATASETS  # rendered from GMD by the render rules
ALL_DATASETS = ds_config.used_datasets(config)  # every dataset with a feature cache


def _names_regex(names):
    return "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))


_SINGLE = _names_regex(ds_config.known_datasets())


wildcard_constraints:
    dataset=rf"(?:{_SINGLE})(?:\+(?:{_SINGLE}))*",
    test_dataset=rf"(?:{_SINGLE})(?:\+(?:{_SINGLE}))*",
    arch=_names_regex(ds_config.known_architectures()),
    trial=r"t\d{3}",
    seed=r"[1-9]\d*",
    kit=r"[A-Za-z0-9][A-Za-z0-9_.\-]*",


# ---- raw data and rendering ----
#: config paths keys the download rule can fill (resources/<key>)
DOWNLOAD_KEYS = sorted({ds_config.path_key(name) for name in ds_config.known_datasets()})


def raw_dataset_input(name):
    """Nothing when the raw dataset is already on disk, else download.smk's output for it."""
    key = ds_config.path_key(name)
    if Path(dataset_root(name)).exists():
        return []
    return download_target(key)


def render_kits(dataset):
    """Kit ids rendered for a synthetic dataset (config render.kits, 'all' = every installed kit)."""
    return ds_config.render_kits(config)


def render_gmd_input(wildcards):
    return raw_dataset_input("gmd_synth")


# ---- features ----
def feature_path(name):
    return f"results/features/{name}.h5"


def features_input(wildcards):
    """Rendered manifests of every kit for gmd_synth*, else the raw dataset (if it must be fetched)."""
    if wildcards.dataset in SYNTH_DATASETS:
        return expand(
            "results/audio/{dataset}/{kit}/manifest.csv",
            dataset=wildcards.dataset,
            kit=render_kits(wildcards.dataset),
        )
    return raw_dataset_input(wildcards.dataset)


def features_root(wildcards):
    if wildcards.dataset in SYNTH_DATASETS:
        return f"results/audio/{wildcards.dataset}"
    return dataset_root(wildcards.dataset)


def summary_input(wildcards):
    return [feature_path(d) for d in ALL_DATASETS]


# ---- params: only what a job's outputs depend on (a change to anything else replans nothing) ----
def result_training(overlay=None):
    """The training section (with ``overlay``, e.g. release.training) without the keys that
    change how a trial runs but not what it learns (device, workers, preload): the script
    reads those from the config (drumscribe.config.runtime_training)."""
    merged = {**config["training"], **(overlay or {})}
    return {k: v for k, v in merged.items() if k not in ds_config.TRAINING_RUNTIME_KEYS}


def result_peaks():
    """The peaks section without default_threshold: a diagnostic the trial records beside
    the tuned thresholds (with its value), read by the script from the config."""
    return {k: v for k, v in config["peaks"].items() if k != "default_threshold"}


def result_evaluation():
    """What trials and tests use of the evaluation section: the onset window (not the
    list of test sets or their splits, which decide which jobs exist)."""
    return {"window": config["evaluation"]["window"]}


# ---- trials and searches ----
def members(dataset):
    """The datasets of a (possibly '+'-joined) training dataset."""
    return dataset.split("+")


def train_features(wildcards):
    return [feature_path(d) for d in members(wildcards.dataset)]


def trials(dataset, arch):
    """{trial id: params} of the search of ``arch`` on ``dataset`` (deterministic)."""
    return ds_config.trials(config, dataset, arch)


def trial_params(wildcards):
    table = trials(wildcards.dataset, wildcards.arch)
    if wildcards.trial not in table:
        raise WorkflowError(
            f"{wildcards.trial}: not a trial of the {wildcards.arch} search on {wildcards.dataset} "
            f"(trials: {', '.join(table)})"
        )
    return table[wildcards.trial]


def trial_files(dataset, arch, name):
    return expand(
        "results/trials/{dataset}/{arch}/{trial}/{name}",
        dataset=dataset,
        arch=arch,
        trial=list(trials(dataset, arch)),
        name=name,
    )


def search_metrics(wildcards):
    return trial_files(wildcards.dataset, wildcards.arch, "metrics.json")


def search_models(wildcards):
    return trial_files(wildcards.dataset, wildcards.arch, "model.pt")


def search_histories(wildcards):
    return trial_files(wildcards.dataset, wildcards.arch, "history.csv")


# ---- evaluation ----
def test_features(wildcards):
    """The caches of a test dataset (a combination a+b is tested on its members' pooled tracks)."""
    return [feature_path(d) for d in members(wildcards.test_dataset)]


def test_splits(wildcards):
    """{dataset: splits tested} for the members of the test dataset (evaluation.test_splits)."""
    return {d: ds_config.test_splits(config, d) for d in members(wildcards.test_dataset)}


def seeds():
    """Seed runs of each search winner besides the trial itself (seed 0): 1..evaluation.seeds-1."""
    return list(range(1, config["evaluation"]["seeds"]))


def seed_evals(dataset, arch, test):
    """The test results of every seed run of a search's winner: the trial (seed 0), then train_seed's."""
    base = f"results/eval/{dataset}/{arch}/{test}"
    return [f"{base}/metrics.json"] + [f"{base}/s{seed}/metrics.json" for seed in seeds()]


def architecture_study_evals():
    """Every architecture on every dataset: in-distribution test plus the zero-shot test sets, every seed."""
    return [
        path
        for dataset in DATASETS
        for arch in ARCHITECTURES
        for test in [dataset] + [t for t in EXTRA_TEST_DATASETS if t != dataset]
        for path in seed_evals(dataset, arch, test)
    ]


def study_architecture():
    """dataset_study.architecture, with 'best' resolved from the architecture study's table."""
    name = config["dataset_study"]["architecture"]
    if name != "best":
        return name
    long_table = checkpoints.architecture_study.get().output.long
    return studies.best_architecture(long_table, DATASETS)


def dataset_study_note():
    """The dataset study plot's scale line; a named architecture's one-point search reads
    "one configuration" (config.study_note)."""
    name = config["dataset_study"]["architecture"]
    return ds_config.study_note(config, None if name == "best" else name)


def dataset_study_evals(wildcards):
    """Every combination's rows, every study seed: a cached one's evaluations (seed 0 = its
    search's trial), a kind's synthetic test rows, and the real-song rows of both."""
    arch = study_architecture()
    paths = []
    for combination in COMBINATIONS:
        if combination in KIND_COMBINATIONS:
            paths += kind_evals(combination, arch)
        else:
            paths += [p for test in STUDY_TEST_DATASETS for p in study_seed_evals(combination, arch, test)]
        paths += real_evals(combination, arch)
    return paths


def dataset_study_curves(wildcards):
    arch = study_architecture()
    return [f"results/plots/curves/{c}_{arch}.png" for c in COMBINATIONS if c not in KIND_COMBINATIONS]


# ---- release ----
def release_evals(wildcards):
    return expand("results/release/eval/{test}/metrics.json", test=RELEASE_TEST_DATASETS)


def release_command():
    """The command that rebuilds the release (recorded in the model card)."""
    root = PROJECT_ROOT.resolve()
    extra = [Path(f).resolve() for f in workflow.configfiles]
    extra = [f.relative_to(root) if f.is_relative_to(root) else f for f in extra
             if f != root / "config" / "config.yaml"]
    return " ".join(["snakemake --cores all release"] + (["--configfile"] + [str(f) for f in extra] if extra else []))


# ---- the robustness suite ----
def project_file(path):
    """A committed file named relative to the project (docs/results/..., src/...), absolute, so a
    run with --directory elsewhere reads it; graph outputs (results/...) and other values as given."""
    if isinstance(path, str) and not os.path.isabs(path) and not path.startswith("results/"):
        if (PROJECT_ROOT / path).exists():
            return str(PROJECT_ROOT / path)
    return path


def _project_models(spec):
    return {k: project_file(v) for k, v in spec.items()} if isinstance(spec, dict) else project_file(spec)


# name -> model (path, `package` or song -> model)
ROBUSTNESS_MODELS = {name: _project_models(spec) for name, spec in config["robustness"]["models"].items()}


wildcard_constraints:
    model=_names_regex(ROBUSTNESS_MODELS) if ROBUSTNESS_MODELS else r"(?!)",


def robustness_models(wildcards):
    """The robustness.models entry of {model}: a path, `package`, or a mapping song -> model."""
    return ROBUSTNESS_MODELS[wildcards.model]


def robustness_model_files(wildcards):
    """The checkpoint files the suite of {model} reads (graph outputs are built first)."""
    return robustness.model_files(ROBUSTNESS_MODELS[wildcards.model])


def robustness_data_input(wildcards):
    """The MDB folder with multi-tracks, or the download rule's output when it is absent."""
    return raw_dataset_input("mdb_drums")


def robustness_outputs(names):
    return [f"results/robustness/{name}.csv" for name in names] + [
        f"results/plots/robustness_{name}.png" for name in names
    ]


# ---- targets ----
def get_final_output():
    """What `snakemake` builds with no target: both studies, their plots and the data summary."""
    outputs = [
        "results/datasets/summary.csv",
        "results/plots/class_balance.png",
        "results/architecture_table.csv",
        "results/plots/architecture_study.png",
        "results/dataset_table.csv",
        "results/plots/dataset_study.png",
    ]
    outputs += [f"results/plots/curves/{d}_{a}.png" for d in DATASETS for a in ARCHITECTURES]
    if "mdb_drums" in ALL_DATASETS:
        outputs.append("results/plots/mdb_drums_example.png")
    outputs += robustness_outputs(config["robustness"]["in_all"])
    return outputs


# ---- cross-validation over the real songs (crossval.smk) ----
def _crossval_folds():
    from drumscribe import crossval

    return crossval.config_folds(config["crossval"], dataset_root("mdb_drums"))


try:
    FOLDS = _crossval_folds()
except DrumscribeError as error:
    fail(error)
FOLD_NAMES = [f.name for f in FOLDS]


wildcard_constraints:
    fold=r"fold\d+|release",


def fold_songs(wildcards):
    """The songs of a fold as a plain dict (train, validation, test)."""
    from drumscribe import crossval

    return crossval.fold_of(FOLDS, wildcards.fold).to_dict()


def crossval_init_from(wildcards):
    """The checkpoint {fold}'s model starts from (crossval.init_from: one for every fold, or
    one per fold), absolute if committed; 'package' or None as given."""
    from drumscribe import crossval

    path = crossval.init_checkpoint(config["crossval"]["init_from"], wildcards.fold)
    return path if path in (None, "package") else project_file(path)


def crossval_init_input(wildcards):
    """That checkpoint as an input of train_fold (nothing for 'package' or a random start)."""
    path = crossval_init_from(wildcards)
    return [] if path in (None, "package") else [path]


def pseudo_teacher(wildcards):
    """The teacher of {fold}'s pseudo labels (crossval.pseudo_teacher), absolute if committed."""
    from drumscribe import crossval

    path = crossval.init_checkpoint(config["crossval"]["pseudo_teacher"], wildcards.fold, key="crossval.pseudo_teacher")
    if path == "package":
        from drumscribe.transcribe import default_model_path

        return str(default_model_path())
    return project_file(path)


def pseudo_labels_input(wildcards):
    """{fold}'s pseudo labels as an input of train_fold, where mixing.p_pseudo > 0."""
    if not config["mixing"].get("p_pseudo", 0.0) > 0:
        return []
    return f"results/crossval/{wildcards.fold}/pseudo_labels.json"


try:
    if FOLD_NAMES:
        from drumscribe.crossval import init_checkpoint as _init_checkpoint

        _init_checkpoint(config["crossval"]["init_from"], FOLD_NAMES[0], FOLD_NAMES)
        if config["mixing"].get("p_pseudo", 0.0) > 0:
            if config["crossval"].get("pseudo_teacher") is None:
                from drumscribe.errors import ConfigError

                raise ConfigError("mixing.p_pseudo: > 0 but crossval.pseudo_teacher is null (no teacher to label the bands)")
            _init_checkpoint(config["crossval"]["pseudo_teacher"], FOLD_NAMES[0], FOLD_NAMES, key="crossval.pseudo_teacher")
except DrumscribeError as error:
    fail(error)


def crossval_manifests(dataset):
    """The render manifests of every kit of a synthetic dataset (the fold models' drums)."""
    return expand("results/audio/{dataset}/{kit}/manifest.csv", dataset=dataset, kit=render_kits(dataset))


try:
    from drumscribe.mixing import mixing_config as _mixing_config

    _mixing_config(config["mixing"])
except DrumscribeError as error:
    fail(error)
# ---- the accompaniment pool (workflow/rules/pool.smk, docs/pool.md) ----
def _pool_uses(source):
    sources = config["pool"]["sources"]
    return sources == "all" or source in sources


def pool_mdb_root(wildcards=None):
    """MDB Drums' folder for the pool's real stems (paths.mdb_drums), or None when not used."""
    return str(dataset_root("mdb_drums")) if _pool_uses("mdb") else None


def pool_pop909_root(wildcards=None):
    """POP909's folder (paths.pop909), or None when the pool does not use it."""
    if not _pool_uses("pop909"):
        return None
    path = Path(config["paths"].get("pop909") or "resources/pop909")
    if not path.exists() and not path.is_absolute() and (PROJECT_ROOT / path).exists():
        path = (PROJECT_ROOT / path).resolve()
    return str(path)


def pool_inputs(wildcards):
    """The source folders of the pool's sources that exist (a missing one fails in the rule, by name)."""
    roots = [pool_mdb_root(), pool_pop909_root()]
    return [r for r in roots if r and Path(r).is_dir()]


# ---- the dataset study's mixed kinds and real-song columns (study_kinds.smk, drumscribe.study_kinds) ----
from drumscribe import study_kinds

try:
    study_kinds.check_config(config, FOLDS)
    REAL_CONDITIONS = study_kinds.real_conditions(config["dataset_study"])
except DrumscribeError as error:
    fail(error)
REAL_TESTS = [study_kinds.real_test_name(c) for c in REAL_CONDITIONS]
KIND_COMBINATIONS = [c for c in COMBINATIONS if study_kinds.has_kind(c)]
STUDY_TEST_COLUMNS = STUDY_TEST_DATASETS + REAL_TESTS  # the dataset table's columns, in order
STUDY_SEEDS = config["dataset_study"]["seeds"] or config["evaluation"]["seeds"]
STUDY_KINDS_CONFIG = config["dataset_study"]["kinds"]
_COMBINATION = _names_regex([*ds_config.known_datasets(), *ds_config.STUDY_KINDS])
COMBINATION_REGEX = rf"(?:{_COMBINATION})(?:\+(?:{_COMBINATION}))*"


def kind_combination_regex():
    return _names_regex(KIND_COMBINATIONS) if KIND_COMBINATIONS else r"(?!)"


def study_seed_evals(combination, arch, test):
    """A cached combination's test results of every study seed: the trial, then train_seed's."""
    base = f"results/eval/{combination}/{arch}/{test}"
    return [f"{base}/metrics.json"] + [f"{base}/s{seed}/metrics.json" for seed in range(1, STUDY_SEEDS)]


def real_evals(combination, arch):
    """The real-song rows of a combination (every seed, every condition of REAL_CONDITIONS)."""
    return [f"results/eval_real/{combination}/{arch}/s{seed}/{c}.json"
            for seed in range(STUDY_SEEDS) for c in REAL_CONDITIONS]


def kind_evals(combination, arch):
    """A kind combination's synthetic test rows (every seed)."""
    return [f"results/eval_combinations/{combination}/{arch}/{test}/s{seed}/metrics.json"
            for test in STUDY_TEST_DATASETS for seed in range(STUDY_SEEDS)]


def kind_folds(combination):
    """The folds a kind combination trains a model in (crossval's test folds, or 'none')."""
    return study_kinds.combination_folds(combination, FOLDS)


def kind_models(wildcards):
    """The models of one seed of a kind combination, one per fold."""
    return [f"results/combinations/{wildcards.combination}/{wildcards.arch}/{f}/s{wildcards.seed}/model.pt"
            for f in kind_folds(wildcards.combination)]


def kind_fold_songs(wildcards):
    if wildcards.fold not in kind_folds(wildcards.combination):
        raise WorkflowError(f"{wildcards.fold}: not a fold of {wildcards.combination} "
                            f"({', '.join(kind_folds(wildcards.combination))})")
    return study_kinds.fold_songs(wildcards.combination, wildcards.fold, FOLDS).to_dict()


def kind_synth_manifests(wildcards):
    """{synthetic dataset: its kits' render manifests} that a kind combination's members draw drums from."""
    needed = set()
    for m in members(wildcards.combination):
        if m in SYNTH_DATASETS:
            needed.add(m)
        elif m == "gmd_synth_pool":
            needed.add("gmd_synth")
    return {d: crossval_manifests(d) for d in sorted(needed)}


def kind_synth_input(wildcards):
    return [p for paths in kind_synth_manifests(wildcards).values() for p in paths]


def kind_params_input(wildcards):
    """The search winner whose hyperparameters the kinds' models take (none when given in the config)."""
    if STUDY_KINDS_CONFIG["params"] is not None:
        return []
    return f"results/search/{STUDY_KINDS_CONFIG['params_from'] or DATASETS[0]}/{wildcards.arch}/best.json"


def real_eval_models(wildcards):
    """The checkpoint(s) the real-song columns of (combination, seed) read: a kind's fold
    models, a cached combination's search (seed 0) or seed run."""
    c, a, s = wildcards.combination, wildcards.arch, int(wildcards.seed)
    if study_kinds.has_kind(c):
        return kind_models(wildcards)
    if s == 0:
        return [f"results/search/{c}/{a}/best.json"] + trial_files(c, a, "model.pt")
    return [f"results/seeds/{c}/{a}/s{s}/model.pt"]


def real_eval_spec(wildcards):
    """robustness.run_suite's models: song -> the fold model that never heard it, one model,
    or a search's best.json (resolved to its trial's model by the script)."""
    from drumscribe import crossval

    c = wildcards.combination
    if study_kinds.needs_folds(c):
        paths = dict(zip(kind_folds(c), kind_models(wildcards)))
        return crossval.test_models([f for f in FOLDS if f.name in paths], paths)
    return real_eval_models(wildcards)[0]


def dataset_study_trained(wildcards):
    """Everything of the dataset study but its real-song rows: every model (a kind's, every fold
    and seed) and the synthetic test rows (target dataset_study_models: the GPU machine's part;
    evaluate_real reads the MDB multi-tracks, which do not travel there)."""
    arch = study_architecture()
    paths = []
    for combination in COMBINATIONS:
        if combination in KIND_COMBINATIONS:
            paths += [f"results/combinations/{combination}/{arch}/{f}/s{seed}/model.pt"
                      for f in kind_folds(combination) for seed in range(STUDY_SEEDS)]
            paths += kind_evals(combination, arch)
        else:
            paths += [p for test in STUDY_TEST_DATASETS for p in study_seed_evals(combination, arch, test)]
    return paths


def real_songs():
    """The songs of the real-song columns: every test song of crossval's folds."""
    return [s for f in FOLDS for s in f.test]
