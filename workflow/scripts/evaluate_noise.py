# Both noise-curve rules: FP32 curves score the checkpoint, PTQ curves the quantized artifact
# (with the family's plain-PyTorch engine: no brevitas import).
from lstmptq.grid import bits_of, curve_eps
from lstmptq.runtime import run_step
from lstmptq.stages.noise import evaluate_curve

artifact = snakemake.input.get("artifact")
w = snakemake.wildcards
run_step(
    snakemake.log[0],
    evaluate_curve,
    extensions=snakemake.params.extensions,
    kind=w.model,
    eps=[
        float(e) for e in curve_eps(snakemake.config)
    ],  # the order of the outputs (not a param: fewer eps must not rerun a curve)
    noisy_files=list(snakemake.input.noisy),
    out_files=list(snakemake.output),
    noise=w.noise,
    checkpoint=snakemake.input.get("checkpoint"),
    artifact=artifact,
    vocab_file=snakemake.input.get("vocab"),
    **({"strategy": w.strategy, "method": w.method, "recipe": w.recipe, "bits": bits_of(w.scheme)} if artifact else {}),
    fp32_cells=list(snakemake.input.fp32_cells) if artifact else None,
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
    device=snakemake.resources.device,  # a resource: no rerun when it changes (lstmptq.resources.device_of)
)
