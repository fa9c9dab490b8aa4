# The noise stage: a noisy test set per noise model and eps (shared by all models), then one
# cell per model x noise model x eps. Each cell is its own file, so adding an eps schedules only
# the new cells. A cell's drops are taken against the same model at eps 0 and the FP32 model at
# the same eps.


rule noisy_test_set:
    """One noise model at one eps on the raw test text, encoded with the vocabulary."""
    input:
        data=path("split", split="test"),
        vocab=path("vocab"),
    output:
        path("noisy"),
    params:
        definition=noise_definition,
        seed=config["noise"]["seed"],
    conda:
        ENV
    log:
        job_log("noisy_test_set", "dataset", "noise", "eps"),
    benchmark:
        job_log("noisy_test_set", "dataset", "noise", "eps", ext="tsv")
    script:
        "../scripts/noisy_test_set.py"


rule evaluate_fp32:
    """One noise cell of an FP32 model."""
    input:
        checkpoint=path("model"),
        noisy=path("noisy"),
        clean_cell=clean_reference("fp32_noise_cell"),
    output:
        path("fp32_noise_cell"),
    params:
        batch_size=config["noise"]["batch_size"],
        device=device_of(config, "evaluate"),
    threads: 1
    resources:
        mem_mb=mem_mb_of(config, config["noise"]["batch_size"], tensors=3),
        runtime=scaled(5, 1),
        gpu=gpus_of(config, "evaluate"),
    conda:
        ENV
    log:
        job_log("evaluate_fp32", "dataset", "model", "seed", "noise", "eps"),
    benchmark:
        job_log("evaluate_fp32", "dataset", "model", "seed", "noise", "eps", ext="tsv")
    script:
        "../scripts/evaluate_noise.py"


rule evaluate_ptq:
    """One noise cell of a quantized model: its PTQ cell's artifact, run by its family's
    plain-PyTorch engine (verified against Brevitas in the PTQ cell; no brevitas import)."""
    input:
        artifact=path("artifact"),
        vocab=path("vocab"),
        noisy=path("noisy"),
        clean_cell=clean_reference("ptq_noise_cell"),
        fp32_cell=path("fp32_noise_cell"),
    output:
        path("ptq_noise_cell"),
    params:
        batch_size=config["noise"]["batch_size"],
        device=device_of(config, "evaluate"),
    threads: 1  # the LSTM steps through time (small ops): cells run side by side instead
    resources:
        mem_mb=mem_mb_of(config, config["noise"]["batch_size"], tensors=3),
        runtime=scaled(5, 2),
        gpu=gpus_of(config, "evaluate"),
    conda:
        ENV
    log:
        job_log("evaluate_ptq", "dataset", "model", "seed", "strategy", "method", "bits", "noise", "eps"),
    benchmark:
        job_log("evaluate_ptq", "dataset", "model", "seed", "strategy", "method", "bits", "noise", "eps", ext="tsv")
    script:
        "../scripts/evaluate_noise.py"
