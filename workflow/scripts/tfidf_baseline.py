from lstmptq.grid import SPLITS
from lstmptq.runtime import run_step
from lstmptq.stages.baseline import tfidf_baseline

run_step(
    snakemake.log[0],
    tfidf_baseline,
    split_files={split: snakemake.input[split] for split in SPLITS},
    labels_file=snakemake.input.labels,
    vocab_file=snakemake.input.vocab,
    out_file=snakemake.output[0],
    seed=snakemake.params.seed,
)
