rule ptq:
    """One PTQ cell: dataset x classifier x seed x calibration strategy x method x recipe x quantization scheme."""
    input:
        checkpoint=path("model"),
        fp32_metrics=path("fp32_metrics"),
        train=path("tokens", split="train"),
        test=path("tokens", split="test"),
        vocab=path("vocab"),
        calibration=path("calibration"),
    output:
        quantized=path("quantized"),
        artifact=path("artifact"),
        metrics=path("ptq_metrics"),
    params:
        percentile=config["ptq"]["percentile"],
        percentiles=recipe_percentiles,  # the recipe's own, per scheme class
        batch_size=config["ptq"]["batch_size"],
        verify_size=config["ptq"]["verify_size"],
        **extension_params(ptq_uses),
    threads: 1  # small tensors, a Python loop over timesteps: run cells side by side instead
    resources:
        mem_mb=mem_mb_of(config, config["ptq"]["batch_size"], tensors=3),
        runtime=scaled(10, 2),  # minutes; input size is mostly the FP32 checkpoint
        gpu=gpus_of(config, "ptq"),
        device=device_of(config, "ptq"),  # where it runs, not what it computes: no rerun (lstmptq.resources)
    conda:
        ENV
    log:
        job_log("ptq", "dataset", "model", "seed", "strategy", "method", "recipe", "scheme"),
    script:
        "../scripts/ptq.py"
