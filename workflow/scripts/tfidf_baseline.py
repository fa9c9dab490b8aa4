from lstmptq.runtime import run_step
from lstmptq.steps import tfidf_baseline

run_step(
    snakemake.log[0],
    tfidf_baseline,
    data_dir=snakemake.input.labels.rsplit("/", 1)[0],
    vocab_file=snakemake.input.vocab,
    out_file=snakemake.output[0],
    seed=snakemake.params.seed,
)
