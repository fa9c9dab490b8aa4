from lstmptq.grid import PLOTS
from lstmptq.runtime import run_step
from lstmptq.stages.plots import make_plots

run_step(
    snakemake.log[0],
    make_plots,
    study_file=snakemake.input.study,
    ks_file=snakemake.input.ks,
    png_files={name: snakemake.output[name] for name in PLOTS},
    pdf_files=dict(zip(PLOTS, snakemake.output.pdf)),
    summary_file=snakemake.input.summary,
    comparison_file=snakemake.input.comparison,
    reference_file=snakemake.input.reference,
    reference_key=snakemake.params.reference_key,
)
