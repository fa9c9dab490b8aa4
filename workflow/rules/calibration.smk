rule calibration_subset:
    """Pick one strategy's calibration documents from the training split (per training seed)."""
    input:
        train=path("split", split="train"),
        labels=path("labels"),
    output:
        path("calibration"),
    params:
        definition=lambda w: config["calibration"]["definitions"][w.strategy],
        fraction=config["calibration"]["fraction"],
        batch_size=config["ptq"]["batch_size"],  # a subset smaller than one PTQ batch is flagged
        **extension_params(calibration_kind_use),
    conda:
        ENV
    log:
        job_log("calibration_subset", "dataset", "seed", "strategy"),
    script:
        "../scripts/calibration_subset.py"
