from lstmptq.grid import SPLITS
from lstmptq.runtime import run_step
from lstmptq.stages.data import prepare_data

run_step(
    snakemake.log[0],
    prepare_data,
    name=snakemake.wildcards.dataset,
    spec=snakemake.config["sources"][snakemake.wildcards.dataset],  # params.spec lacks the check thresholds
    split_files={split: snakemake.output[split] for split in SPLITS},
    labels_file=snakemake.output.labels,
)
