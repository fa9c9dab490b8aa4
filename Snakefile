# PTQ of generative vs discriminative LSTM text classifiers: the study workflow.
# Stages live in workflow/rules/ (one file each); the logic in the `lstmptq` package (src/).
from snakemake.utils import min_version, validate

from lstmptq.config import check_config, model_settings, source_files

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")
check_config(config)

SPLITS = ["train", "valid", "test"]
DATASETS = config["datasets"]
CLASSIFIERS = config["classifiers"]
SEEDS = config["seeds"]


wildcard_constraints:
    dataset="[a-z][a-z0-9_]*",
    model="discriminative|generative",
    seed="[0-9]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/tokenize.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"


rule all:
    default_target: True
    input:
        expand("results/{dataset}/tables/fp32_accuracy.csv", dataset=DATASETS),
