from lstmptq.runtime import run_step
from lstmptq.stages.calibration import calibration_subset

run_step(
    snakemake.log[0],
    calibration_subset,
    extensions=snakemake.params.extensions,
    train_file=snakemake.input.train,
    labels_file=snakemake.input.labels,
    out_file=snakemake.output[0],
    strategy=snakemake.wildcards.strategy,
    definition=dict(snakemake.params.definition),
    fraction=snakemake.params.fraction,
    seed=int(snakemake.wildcards.seed),
    batch_size=snakemake.params.batch_size,
)
