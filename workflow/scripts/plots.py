from lstmptq.plots import make_plots
from lstmptq.runtime import run_step

run_step(snakemake.log[0], make_plots, study_file=snakemake.input.study, ks_file=snakemake.input.ks, out_dir=snakemake.output.pdf[0].rsplit("/", 1)[0])
