rule train:
    """Train one classifier (dataset x classifier x seed) in FP32, early-stopped on valid accuracy."""
    input:
        tokens=expand("results/{{dataset}}/tokens/{split}.parquet", split=SPLITS),
        vocab="results/{dataset}/tokens/vocab.json",
        labels="results/{dataset}/data/labels.json",
    output:
        model="results/{dataset}/{model}/seed{seed}/fp32/model.pt",
        train_log="results/{dataset}/{model}/seed{seed}/fp32/train_log.csv",
        metrics="results/{dataset}/{model}/seed{seed}/fp32/metrics.json",
    params:
        model=lambda w: model_settings(config, w.model),
        training=config["training"],
        checks=config["checks"],
        deterministic=config["deterministic"],  # other numbers: retrain (and so redo all after)
        device=device_of(config, "train"),
    threads: 1 if config["deterministic"] else 2
    resources:
        mem_mb=mem_mb_of(config, config["training"]["batch_size"], tensors=6),
        # minutes: measured on CPU, ~0.35 (generative) / ~0.02 (discriminative) min per epoch per MB of token files
        runtime=lambda w, input, attempt: int(attempt * (10 + config["training"]["max_epochs"] * input.size_mb * (0.35 if w.model == "generative" else 0.02))),
        gpu=gpus_of(config, "train"),
    conda:
        ENV
    log:
        "logs/{dataset}/{model}/seed{seed}/train.log",
    benchmark:
        "benchmarks/{dataset}/{model}/seed{seed}/train.tsv"
    script:
        "../scripts/train.py"
