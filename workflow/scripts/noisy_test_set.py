from lstmptq.runtime import run_step
from lstmptq.stages.noise import noisy_test_set

run_step(
    snakemake.log[0],
    noisy_test_set,
    extensions=snakemake.config["extensions"],
    data_file=snakemake.input.data,
    vocab_file=snakemake.input.vocab,
    out_file=snakemake.output[0],
    noise=snakemake.wildcards.noise,
    settings=dict(snakemake.params.definition),
    eps=float(snakemake.wildcards.eps),
    seed=snakemake.params.seed,
)
