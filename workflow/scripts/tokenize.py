from lstmptq.runtime import run_step
from lstmptq.steps import tokenize

run_step(
    snakemake.log[0],
    tokenize,
    data_dir=snakemake.input[0].rsplit("/", 1)[0],
    out_dir=snakemake.output.vocab.rsplit("/", 1)[0],
    settings=dict(snakemake.params.settings),
)
