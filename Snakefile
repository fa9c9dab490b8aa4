# PTQ of generative vs discriminative LSTM text classifiers: the study workflow.
# One rule file per stage in workflow/rules/, one step module per stage in src/lstmptq/stages/;
# the grid (axes, spellings, paths) is lstmptq.grid, the extension points lstmptq.registry.
import sys
from pathlib import Path

from snakemake.utils import min_version

# Jobs import the package from this checkout's src/, also inside --sdm conda environments,
# so the code that runs is the code next to this file.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)

from lstmptq.runtime import export_pythonpath

export_pythonpath(SRC)

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/tokenize.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/ptq.smk"
include: "workflow/rules/ks.smk"
include: "workflow/rules/noise.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/design_space.smk"
include: "workflow/rules/cost.smk"


rule all:
    default_target: True
    input:
        per_dataset("fp32_table"),
        per_dataset("ptq_table"),
        per_dataset("ks_csv"),
        per_dataset("study_summary"),
        path("verdicts_html"),
        expand(path("plot"), dataset=config["datasets"], name=PLOTS, ext=["png", "pdf"]),
        design_space_targets(config),  # empty without a design-space sweep
        path("cost_csv"),
