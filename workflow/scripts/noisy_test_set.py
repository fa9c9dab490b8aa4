from lstmptq.evaluation import noisy_test_set
from lstmptq.runtime import run_step

run_step(
    snakemake.log[0],
    noisy_test_set,
    data_file=snakemake.input.data,
    vocab_file=snakemake.input.vocab,
    out_file=snakemake.output[0],
    eps=float(snakemake.wildcards.eps),
    seed=snakemake.params.seed,
    alphabet=snakemake.params.alphabet,
)
