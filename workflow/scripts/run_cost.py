from lstmptq.report.cost import write_cost
from lstmptq.runtime import run_step

run_step(
    snakemake.log[0],
    write_cost,
    extensions=snakemake.params.extensions,
    run=".",
    out_csv=snakemake.output[0],
    threads=snakemake.threads,
)
