rule calibration_subset:
    """Pick one strategy's calibration documents from the training split (per training seed)."""
    input:
        train="results/{dataset}/data/train.parquet",
        labels="results/{dataset}/data/labels.json",
    output:
        "results/{dataset}/calibration/seed{seed}/{strategy}.json",
    params:
        definition=lambda w: config["calibration"]["definitions"][w.strategy],
        fraction=config["calibration"]["fraction"],
        batch_size=config["ptq"]["batch_size"],  # a subset smaller than one PTQ batch is flagged
    conda:
        ENV
    log:
        "logs/{dataset}/calibration/seed{seed}/{strategy}.log",
    script:
        "../scripts/calibration_subset.py"
