from lstmptq.runtime import run_step
from lstmptq.stages.ptq import quantize_cell

run_step(
    snakemake.log[0],
    quantize_cell,
    extensions=snakemake.params.extensions,
    checkpoint=snakemake.input.checkpoint,
    fp32_metrics_file=snakemake.input.fp32_metrics,
    train_tokens=snakemake.input.train,
    test_tokens=snakemake.input.test,
    vocab_file=snakemake.input.vocab,
    calibration_file=snakemake.input.calibration,
    quantized_file=snakemake.output.quantized,
    artifact_file=snakemake.output.artifact,
    metrics_file=snakemake.output.metrics,
    scheme=snakemake.wildcards.scheme,
    method=snakemake.wildcards.method,
    recipe=snakemake.wildcards.recipe,
    percentile=snakemake.params.percentile,
    percentiles=snakemake.params.percentiles,
    batch_size=snakemake.params.batch_size,
    verify_size=snakemake.params.verify_size,
    threads=snakemake.threads,
    device=snakemake.resources.device,  # a resource: no rerun when it changes (lstmptq.resources.device_of)
)
