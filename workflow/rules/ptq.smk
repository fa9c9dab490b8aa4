rule ptq:
    """One PTQ cell: dataset x classifier x seed x calibration strategy x method x bit width."""
    input:
        checkpoint="results/{dataset}/{model}/seed{seed}/fp32/model.pt",
        fp32_metrics="results/{dataset}/{model}/seed{seed}/fp32/metrics.json",
        tokens=expand("results/{{dataset}}/tokens/{split}.parquet", split=["train", "test"]),
        vocab="results/{dataset}/tokens/vocab.json",
        calibration="results/{dataset}/calibration/seed{seed}/{strategy}.json",
    output:
        model="results/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/quantized.pt",
        artifact="results/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/quantized.safetensors",
        metrics="results/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/metrics.json",
    params:
        percentile=config["ptq"]["percentile"],
        batch_size=config["ptq"]["batch_size"],
        device=device_of(config, "ptq"),
    threads: 1  # QuantLSTM steps through time in Python: run cells side by side instead
    resources:
        mem_mb=mem_mb_of(config, config["ptq"]["batch_size"], tensors=3),
        runtime=scaled(10, 2),  # minutes; input size is mostly the FP32 checkpoint
        gpu=gpus_of(config, "ptq"),
    conda:
        ENV
    log:
        "logs/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/ptq.log",
    benchmark:
        "benchmarks/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/ptq.tsv"
    script:
        "../scripts/ptq.py"


rule ptq_table:
    """Every PTQ cell of a dataset in one long table (accuracy, drop, size, times)."""
    input:
        expand(
            "results/{{dataset}}/{model}/seed{seed}/{strategy}/{method}/w{bits}/metrics.json",
            model=CLASSIFIERS,
            seed=SEEDS,
            strategy=STRATEGIES,
            method=METHODS,
            bits=BITS,
        ),
    output:
        "results/{dataset}/tables/ptq_accuracy.csv",
    conda:
        ENV
    log:
        "logs/{dataset}/ptq_table.log",
    script:
        "../scripts/ptq_table.py"
