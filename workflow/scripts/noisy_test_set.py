from lstmptq.grid import curve_eps
from lstmptq.runtime import run_step
from lstmptq.stages.noise import noisy_test_sets

run_step(
    snakemake.log[0],
    noisy_test_sets,
    extensions=snakemake.params.extensions,
    data_file=snakemake.input.data,
    vocab_file=snakemake.input.vocab,
    out_files=list(snakemake.output),
    noise=snakemake.wildcards.noise,
    settings=dict(snakemake.params.definition),
    eps=[
        float(e) for e in curve_eps(snakemake.config)
    ],  # the order of the outputs (not a param: fewer eps must not rerun a curve)
    seed=snakemake.params.seed,
)
