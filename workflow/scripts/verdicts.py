from lstmptq.report.verdicts import write_verdicts
from lstmptq.runtime import run_step

run_step(
    snakemake.log[0],
    write_verdicts,
    findings_files=dict(zip(snakemake.config["datasets"], snakemake.input.findings)),
    datasets=list(snakemake.params.datasets),
    recipes=list(snakemake.params.recipes),
    out_csv=snakemake.output.csv,
    out_html=snakemake.output.html,
)
