from lstmptq.runtime import run_step
from lstmptq.steps import ks_statistics

run_step(
    snakemake.log[0],
    ks_statistics,
    checkpoint=snakemake.input.checkpoint,
    tokens_dir=snakemake.input.test.rsplit("/", 1)[0],
    quantized_files=dict(zip(snakemake.params.strategies, snakemake.input.quantized)),
    out_table=snakemake.output.table,
    out_signal=snakemake.output.signal,
    bits=int(snakemake.wildcards.bits),
    method=snakemake.wildcards.method,
    probe_size=snakemake.params.probe_size,
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
)
