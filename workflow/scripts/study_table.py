from lstmptq.runtime import run_step
from lstmptq.stages.tables import study_tables

run_step(
    snakemake.log[0],
    study_tables,
    extensions=snakemake.params.extensions,
    dataset=snakemake.wildcards.dataset,
    cell_files=list(snakemake.input.cells),
    ptq_metric_files=list(snakemake.input.ptq),
    fp32_metric_files=list(snakemake.input.fp32),
    labels_file=snakemake.input.labels,
    checks=dict(snakemake.params.checks),
    out_parquet=snakemake.output.parquet,
    out_csv=snakemake.output.csv,
    out_summary=snakemake.output.summary,
    out_findings=snakemake.output.findings,
    method=snakemake.params.method,
    reference_file=snakemake.input.reference,
    reference_key=snakemake.params.reference_key,
    out_reference=snakemake.output.reference,
)
