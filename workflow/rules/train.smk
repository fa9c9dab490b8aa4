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
        device=config["device"],
    threads: 2
    conda:
        ENV
    log:
        "logs/{dataset}/{model}/seed{seed}/train.log",
    benchmark:
        "benchmarks/{dataset}/{model}/seed{seed}/train.tsv"
    script:
        "../scripts/train.py"
