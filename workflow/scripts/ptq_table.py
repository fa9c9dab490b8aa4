from lstmptq.runtime import run_step
from lstmptq.stages.tables import summarize_ptq

run_step(
    snakemake.log[0],
    summarize_ptq,
    metric_files=list(snakemake.input.metrics),
    labels_file=snakemake.input.labels,
    checks=dict(snakemake.params.checks),
    out_file=snakemake.output[0],
)
