rule ks_statistics:
    """KS statistics of weights and activations for one classifier x seed x method x bit width."""
    input:
        checkpoint="results/{dataset}/{model}/seed{seed}/fp32/model.pt",
        test="results/{dataset}/tokens/test.parquet",
        quantized=expand(
            "results/{{dataset}}/{{model}}/seed{{seed}}/{strategy}/{{method}}/w{{bits}}/quantized.pt",
            strategy=STRATEGIES,
        ),
    output:
        table="results/{dataset}/{model}/seed{seed}/ks/{method}/w{bits}.csv",
        signal="results/{dataset}/{model}/seed{seed}/ks/{method}/w{bits}_signal.json",
    params:
        strategies=STRATEGIES,
        probe_size=config["ks"]["probe_size"],
        batch_size=config["ptq"]["batch_size"],
    threads: 1
    resources:
        mem_mb=mem_mb_of(config, config["ptq"]["batch_size"], tensors=3),
        runtime=scaled(10, 2),
    conda:
        ENV
    log:
        "logs/{dataset}/{model}/seed{seed}/ks/{method}/w{bits}.log",
    benchmark:
        "benchmarks/{dataset}/{model}/seed{seed}/ks/{method}/w{bits}.tsv"
    script:
        "../scripts/ks_statistics.py"


rule ks_table:
    """All KS statistics and hidden-state signal health of a dataset, in two long tables."""
    input:
        tables=expand(
            "results/{{dataset}}/{model}/seed{seed}/ks/{method}/w{bits}.csv",
            model=CLASSIFIERS,
            seed=SEEDS,
            method=METHODS,
            bits=BITS,
        ),
        signals=expand(
            "results/{{dataset}}/{model}/seed{seed}/ks/{method}/w{bits}_signal.json",
            model=CLASSIFIERS,
            seed=SEEDS,
            method=METHODS,
            bits=BITS,
        ),
    output:
        ks="results/{dataset}/tables/ks.csv",
        signal="results/{dataset}/tables/signal_health.csv",
    conda:
        ENV
    log:
        "logs/{dataset}/ks_table.log",
    script:
        "../scripts/ks_table.py"
