# Shared by every stage file: the checked config, the grid's paths and wildcard patterns,
# input functions and resource callables. No rules here.
import os
import shutil

from snakemake.utils import validate

from lstmptq.config import check_config, check_moved_keys, model_settings, reference_key, source_files
from lstmptq.grid import PLOTS, SPLITS, WILDCARDS, cells, curve_eps, job_log, path
from lstmptq.recipes import declared, recipe
from lstmptq.resources import device_of, gpus_of, mem_mb_of, scaled, train_minutes
from lstmptq.runtime import DETERMINISTIC_ENV

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


onstart:
    # Without SLURM's client tools every submission fails and the executor then waits on jobs
    # that never started: stop before any work instead. (The executor is known only here.)
    if getattr(workflow.executor_plugin, "name", None) == "slurm":
        missing = [tool for tool in ("sbatch", "squeue", "scancel") if shutil.which(tool) is None]
        if missing:
            raise WorkflowError(
                f"the SLURM executor (--workflow-profile profiles/slurm) needs {', '.join(missing)} on PATH; "
                "run from a SLURM login node, or drop the profile to run locally"
            )
