rule tokenize:
    """Build the vocabulary from train only; encode every split with it."""
    input:
        **per_split("split"),
    output:
        **per_split("tokens"),
        vocab=path("vocab"),
        stats=path("token_stats"),
    params:
        settings=config["tokenizer"],
    conda:
        ENV
    log:
        job_log("tokenize", "dataset"),
    script:
        "../scripts/tokenize.py"
