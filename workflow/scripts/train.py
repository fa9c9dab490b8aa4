from lstmptq.grid import SPLITS
from lstmptq.runtime import run_step
from lstmptq.stages.train import train_classifier

run_step(
    snakemake.log[0],
    train_classifier,
    extensions=snakemake.params.extensions,
    token_files={split: snakemake.input[split] for split in SPLITS},
    vocab_file=snakemake.input.vocab,
    labels_file=snakemake.input.labels,
    model_file=snakemake.output.model,
    train_log_file=snakemake.output.train_log,
    metrics_file=snakemake.output.metrics,
    kind=snakemake.wildcards.model,
    model_settings=dict(snakemake.params.model),
    training_settings=dict(snakemake.params.training),
    seed=int(snakemake.wildcards.seed),
    device=snakemake.resources.device,  # a resource: no rerun when it changes (lstmptq.resources.device_of)
    threads=snakemake.threads,
)
