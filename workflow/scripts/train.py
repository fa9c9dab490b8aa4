from lstmptq.runtime import run_step
from lstmptq.steps import train_classifier

run_step(
    snakemake.log[0],
    train_classifier,
    tokens_dir=snakemake.input.vocab.rsplit("/", 1)[0],
    labels_file=snakemake.input.labels,
    out_dir=snakemake.output.model.rsplit("/", 1)[0],
    kind=snakemake.wildcards.model,
    model_settings=dict(snakemake.params.model),
    training_settings=dict(snakemake.params.training),
    seed=int(snakemake.wildcards.seed),
    checks=dict(snakemake.params.checks),
    device=snakemake.params.device,
    threads=snakemake.threads,
)
