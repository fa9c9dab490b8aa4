# Shared by every stage file: the checked config, the grid's paths and wildcard patterns,
# input functions and resource callables. No rules here.
import os
import shutil

from snakemake.utils import validate

from lstmptq.config import check_config, check_moved_keys, data_settings, model_settings, reference_key
from lstmptq.config import source_files, source_fingerprints
from lstmptq import preflight
from lstmptq.grid import PLOTS, SPLITS, WILDCARDS, cells, curve_eps, job_log, parse_method, path
from lstmptq.recipes import declared, recipe
from lstmptq.registry import code_fingerprints, job_extensions
from lstmptq.resources import device_of, gpus_of, mem_mb_of, scaled, train_minutes
from lstmptq.runtime import DETERMINISTIC_ENV
from lstmptq.scheme import parse as parse_scheme

if workflow.is_main_process:
    try:
        preflight.check_cores(workflow.resource_settings.cores)
    except ValueError as err:
        raise WorkflowError(str(err)) from None
SCHEMA = str(Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
check_moved_keys(config)
validate(config, SCHEMA)
check_config(config, SCHEMA)
if config["deterministic"]:  # jobs inherit it (also through sbatch), before they import torch
    os.environ.update(DETERMINISTIC_ENV)

ENV = str(Path(workflow.basedir) / "envs" / "lstmptq.yaml")  # used with --sdm conda
REFERENCE_FILE = str(Path(workflow.basedir) / "workflow" / "reference" / "ptq_gendisc.csv")  # the authors' figures
STRATEGIES = config["calibration"]["strategies"]


wildcard_constraints:
    **WILDCARDS,


def per_dataset(kind):
    """One file of `kind` per configured dataset."""
    return expand(path(kind), dataset=config["datasets"])


def over_grid(kind):
    """Every file of `kind` in one dataset's grid (the inputs of its tables)."""
    return cells(config, kind, dataset="{dataset}")


def per_split(kind, splits=SPLITS):
    """{split: file} of `kind` for the given splits of the rule's dataset."""
    return {split: path(kind, split=split) for split in splits}


CURVE_EPS = curve_eps(config)


def noise_curve(kind):
    """Every eps file of one noise curve of `kind` (a rule's other wildcards kept)."""
    return [path(kind, eps=eps) for eps in CURVE_EPS]


def recipe_percentiles(w):
    """A PTQ cell's recipe's percentiles for its family (class letter -> percentile)."""
    return recipe(w.model, w.recipe).percentiles_for(w.model)


def dataset_reference(w):
    """The published figures a dataset's results are compared with (its source's hub path or `reference:`)."""
    return reference_key(config["sources"][w.dataset])


# the verdict grid's columns: every recipe the configured families declare (one not run says so)
VERDICT_RECIPES = list(dict.fromkeys(name for family in config["classifiers"] for name in declared(family)))


def noise_definition(w):
    return config["noise"]["definitions"][w.noise]


def extension_params(uses):
    """Params (`**extension_params(...)`) of a rule whose job looks up registry entries; `uses(w)`
    lists the (registry, name) pairs a job looks up. `extensions`: the config's entries among them,
    which the job registers (runtime.run_step); `extension_code`: the sha256 of each one's source
    file, so that editing it reruns the jobs that use it and no other (registry.code_fingerprints)."""

    def entries(w):
        return job_extensions(config["extensions"], uses(w))

    return {"extensions": entries, "extension_code": lambda w: code_fingerprints(entries(w))}


def family_use(w):
    """A job that builds or runs a model of its family (w.model)."""
    return [("classifiers", w.model)]


def classifier_uses(w):
    """A job that reads every configured family's declarations."""
    return [("classifiers", model) for model in config["classifiers"]]


def calibration_kind_use(w):
    return [("calibration_kinds", config["calibration"]["definitions"][w.strategy]["kind"])]


def noise_model_use(w):
    return [("noise_models", noise_definition(w)["kind"])]


def statistics_use(w):
    """A job that reads scheme names: every statistic letter the config adds (schemes parse with them)."""
    return [("statistics", letter) for letter in config["extensions"].get("statistics", {})]


def ptq_uses(w):
    """A PTQ cell: its family, its method, and the scale statistic of each of its scheme's classes."""
    statistics = {setting.statistic for setting in parse_scheme(w.scheme).settings.values()}
    return [*family_use(w), ("ptq_methods", parse_method(w.method)[0]), *(("statistics", s) for s in sorted(statistics))]


onstart:
    # A run that executes jobs (onstart runs in no dry run and in no job): one at a time per folder,
    # and every output folder writable (lstmptq.preflight says why).
    if workflow.execution_settings.lock:
        try:
            preflight.acquire()
        except preflight.RunLockError as err:
            raise WorkflowError(str(err)) from None
    if blocked := preflight.unwritable(f for job in workflow.dag.needrun_jobs() for f in [*job.output, *job.log]):
        raise WorkflowError(
            f"cannot write into {', '.join(blocked)}: the run would replace files there. "
            "Make the folder writable (chmod u+w), or run from a copy of the project you can write to"
        )
    # Without SLURM's client tools every submission fails and the executor then waits on jobs
    # that never started: stop before any work instead. (The executor is known only here.)
    if getattr(workflow.executor_plugin, "name", None) == "slurm":
        missing = [tool for tool in ("sbatch", "squeue", "scancel") if shutil.which(tool) is None]
        if missing:
            raise WorkflowError(
                f"the SLURM executor (--workflow-profile profiles/slurm) needs {', '.join(missing)} on PATH; "
                "run from a SLURM login node, or drop the profile to run locally"
            )
