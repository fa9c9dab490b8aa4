# Both noise-cell rules: FP32 cells score the checkpoint, PTQ cells the quantized artifact
# (with the family's plain-PyTorch engine: no brevitas import).
from lstmptq.runtime import run_step
from lstmptq.stages.noise import evaluate_cell

artifact = snakemake.input.get("artifact")
w = snakemake.wildcards
run_step(
    snakemake.log[0],
    evaluate_cell,
    extensions=snakemake.config["extensions"],
    kind=w.model,
    noisy_file=snakemake.input.noisy,
    out_file=snakemake.output[0],
    noise=w.noise,
    eps=float(w.eps),
    checkpoint=snakemake.input.get("checkpoint"),
    artifact=artifact,
    vocab_file=snakemake.input.get("vocab"),
    **({"strategy": w.strategy, "method": w.method, "bits": int(w.bits)} if artifact else {}),
    clean_cell=snakemake.input.get("clean_cell") or None,
    fp32_cell=snakemake.input.get("fp32_cell"),
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
    device=snakemake.params.device,
)
