from lstmptq.grid import bits_of
from lstmptq.runtime import run_step
from lstmptq.stages.ks import ks_statistics

run_step(
    snakemake.log[0],
    ks_statistics,
    extensions=snakemake.params.extensions,
    checkpoint=snakemake.input.checkpoint,
    test_tokens=snakemake.input.test,
    artifact_files=dict(zip(snakemake.params.strategies, snakemake.input.artifacts)),
    out_table=snakemake.output.table,
    out_signal=snakemake.output.signal,
    bits=bits_of(snakemake.wildcards.scheme),
    method=snakemake.wildcards.method,
    recipe=snakemake.wildcards.recipe,
    probe_size=snakemake.params.probe_size,
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
)
