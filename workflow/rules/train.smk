rule train:
    """Train one classifier (dataset x classifier x seed) in FP32, early-stopped on valid accuracy."""
    input:
        **per_split("tokens"),
        vocab=path("vocab"),
        labels=path("labels"),
    output:
        model=path("model"),
        train_log=path("train_log"),
        metrics=path("fp32_metrics"),
    params:
        model=lambda w: model_settings(config, w.model),
        training=config["training"],
        deterministic=config["deterministic"],  # other numbers: retrain (and so redo all after)
        **extension_params(family_use),
    threads: 1 if config["deterministic"] else 2
    priority: 1  # the longest jobs, and every later job waits for one: start them first
    resources:
        mem_mb=mem_mb_of(config, config["training"]["batch_size"], tensors=6),
        runtime=train_minutes(config),
        gpu=gpus_of(config, "train"),
        device=device_of(config, "train"),  # where it runs, not what it computes: no rerun (lstmptq.resources)
    conda:
        ENV
    log:
        job_log("train", "dataset", "model", "seed"),
    script:
        "../scripts/train.py"
