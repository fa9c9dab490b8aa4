from lstmptq.grid import DESIGN_SPACE_PLOTS
from lstmptq.runtime import run_step
from lstmptq.stages.design_space import design_space

run_step(
    snakemake.log[0],
    design_space,
    extensions=snakemake.params.extensions,
    metric_files=list(snakemake.input.metrics),
    labels_file=snakemake.input.labels,
    checks=dict(snakemake.params.checks),
    collapse_sqnr_db=snakemake.params.collapse_sqnr_db,
    out_table=snakemake.output.table,
    out_quantizers=snakemake.output.quantizers,
    out_answers=snakemake.output.answers,
    png_files={name: snakemake.output[name] for name in DESIGN_SPACE_PLOTS},
    pdf_files=dict(zip(DESIGN_SPACE_PLOTS, snakemake.output.pdf)),
)
