rule ks_statistics:
    """KS statistics of weights and activations for one classifier x seed x method x quantization scheme."""
    input:
        checkpoint=path("model"),
        test=path("tokens", split="test"),
        artifacts=expand(path("artifact"), strategy=STRATEGIES, allow_missing=True),
    output:
        table=path("ks_table"),
        signal=path("ks_signal"),
    params:
        strategies=STRATEGIES,
        probe_size=config["ks"]["probe_size"],
        batch_size=config["ptq"]["batch_size"],
        **extension_params(family_use),
    threads: 1
    resources:
        mem_mb=mem_mb_of(config, config["ptq"]["batch_size"], tensors=3),
        runtime=scaled(10, 2),
    conda:
        ENV
    log:
        job_log("ks_statistics", "dataset", "model", "seed", "method", "recipe", "scheme"),
    script:
        "../scripts/ks_statistics.py"
