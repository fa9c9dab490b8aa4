rule tokenize:
    """Build the vocabulary from train only; encode every split with it."""
    input:
        expand("results/{{dataset}}/data/{split}.parquet", split=SPLITS),
    output:
        tokens=expand("results/{{dataset}}/tokens/{split}.parquet", split=SPLITS),
        vocab="results/{dataset}/tokens/vocab.json",
        stats="results/{dataset}/tokens/stats.json",
    params:
        settings=config["tokenizer"],
    conda:
        ENV
    log:
        "logs/{dataset}/tokenize.log",
    benchmark:
        "benchmarks/{dataset}/tokenize.tsv"
    script:
        "../scripts/tokenize.py"
