from lstmptq.runtime import run_step
from lstmptq.stages.tables import summarize_ks

run_step(
    snakemake.log[0],
    summarize_ks,
    dataset=snakemake.wildcards.dataset,
    table_files=list(snakemake.input.tables),
    signal_files=list(snakemake.input.signals),
    out_ks=snakemake.output.ks,
    out_signal=snakemake.output.signal,
)
