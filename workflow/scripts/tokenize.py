from lstmptq.grid import SPLITS
from lstmptq.runtime import run_step
from lstmptq.stages.tokenize import tokenize

run_step(
    snakemake.log[0],
    tokenize,
    split_files={split: snakemake.input[split] for split in SPLITS},
    token_files={split: snakemake.output[split] for split in SPLITS},
    vocab_file=snakemake.output.vocab,
    stats_file=snakemake.output.stats,
    settings=dict(snakemake.params.settings),
    dataset=snakemake.wildcards.dataset,
)
