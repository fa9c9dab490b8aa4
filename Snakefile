# PTQ of generative vs discriminative LSTM text classifiers: the study workflow.
# Stages live in workflow/rules/ (one file each); the logic in the `lstmptq` package (src/).
import os
import shutil
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

# Jobs import the package from this checkout's src/, also inside --sdm conda environments,
# so the code that runs is the code next to this file.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)

from lstmptq.config import check_config, model_settings, source_files
from lstmptq.grid import WILDCARDS, format_eps, ptq_methods
from lstmptq.plots import PLOTS
from lstmptq.resources import device_of, gpus_of, mem_mb_of, scaled
from lstmptq.runtime import DETERMINISTIC_ENV

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


SCHEMA = "workflow/schemas/config.schema.yaml"
validate(config, SCHEMA)
check_config(config, Path(workflow.basedir) / SCHEMA)
if config["deterministic"]:  # jobs inherit it (also through sbatch), before they import torch
    os.environ.update(DETERMINISTIC_ENV)


SPLITS = ["train", "valid", "test"]
ENV = str(Path(workflow.basedir) / "envs" / "lstmptq.yaml")  # used with --sdm conda
DATASETS = config["datasets"]
CLASSIFIERS = config["classifiers"]
SEEDS = config["seeds"]
STRATEGIES = config["calibration"]["strategies"]
BITS = config["ptq"]["bits"]
METHODS = ptq_methods(config)
EPS = [format_eps(eps) for eps in config["noise"]["eps"]]


wildcard_constraints:
    **WILDCARDS,


include: "workflow/rules/data.smk"
include: "workflow/rules/tokenize.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/ptq.smk"
include: "workflow/rules/ks.smk"
include: "workflow/rules/noise.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/report.smk"


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


rule all:
    default_target: True
    input:
        expand("results/{dataset}/tables/fp32_accuracy.csv", dataset=DATASETS),
        expand("results/{dataset}/tables/ptq_accuracy.csv", dataset=DATASETS),
        expand("results/{dataset}/tables/ks.csv", dataset=DATASETS),
        expand("results/{dataset}/tables/study_summary.csv", dataset=DATASETS),
        expand("results/{dataset}/plots/{name}.{ext}", dataset=DATASETS, name=PLOTS, ext=["png", "pdf"]),
