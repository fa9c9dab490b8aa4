from lstmptq.runtime import run_step
from lstmptq.steps import prepare_data

run_step(
    snakemake.log[0],
    prepare_data,
    name=snakemake.wildcards.dataset,
    spec=snakemake.params.spec,
    out_dir=snakemake.output.labels.rsplit("/", 1)[0],
)
