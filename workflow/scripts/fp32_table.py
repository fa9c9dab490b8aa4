from lstmptq.runtime import run_step
from lstmptq.stages.tables import summarize_fp32

run_step(
    snakemake.log[0],
    summarize_fp32,
    metric_files=list(snakemake.input.metrics),
    baseline_file=snakemake.input.baseline,
    labels_file=snakemake.input.labels,
    checks=dict(snakemake.params.checks),
    out_file=snakemake.output[0],
)
