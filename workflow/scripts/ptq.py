from lstmptq.runtime import run_step
from lstmptq.steps import quantize_cell

run_step(
    snakemake.log[0],
    quantize_cell,
    checkpoint=snakemake.input.checkpoint,
    fp32_metrics_file=snakemake.input.fp32_metrics,
    tokens_dir=snakemake.input.tokens[0].rsplit("/", 1)[0],
    vocab_file=snakemake.input.vocab,
    calibration_file=snakemake.input.calibration,
    out_dir=snakemake.output.metrics.rsplit("/", 1)[0],
    bits=int(snakemake.wildcards.bits),
    method=snakemake.wildcards.method,
    percentile=snakemake.params.percentile,
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
    device=snakemake.params.device,
)
