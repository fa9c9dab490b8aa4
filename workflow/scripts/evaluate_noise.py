# Both noise-cell rules: FP32 (no `quantized` input, no brevitas import) and PTQ cells.
from lstmptq.evaluation import evaluate_cell
from lstmptq.runtime import run_step

quantized = snakemake.input.get("quantized")
w = snakemake.wildcards
run_step(
    snakemake.log[0],
    evaluate_cell,
    checkpoint=snakemake.input.checkpoint,
    noisy_file=snakemake.input.noisy,
    out_file=snakemake.output[0],
    eps=float(w.eps),
    quantized=quantized,
    **({"strategy": w.strategy, "method": w.method, "bits": int(w.bits)} if quantized else {}),
    clean_cell=snakemake.input.get("clean_cell") or None,
    fp32_cell=snakemake.input.get("fp32_cell"),
    batch_size=snakemake.params.batch_size,
    threads=snakemake.threads,
    device=snakemake.params.device,
)
