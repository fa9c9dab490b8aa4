# The noise stage: noisy test sets per noise model and eps (shared by all models), then one
# cell per model x noise model x eps. Each cell is its own file, but one job writes a model's
# whole curve (every eps): the model and the engine load once, not once per cell. Naming one
# cell's file reruns its curve. A cell's drops are taken against the same model at eps 0 and
# the FP32 model at the same eps.


rule noisy_test_set:
    """One noise model at every eps on the raw test text, encoded with the vocabulary."""
    input:
        data=path("split", split="test"),
        vocab=path("vocab"),
    output:
        noise_curve("noisy"),
    params:
        definition=noise_definition,
        seed=config["noise"]["seed"],
        **extension_params(noise_model_use),
    conda:
        ENV
    log:
        job_log("noisy_test_set", "dataset", "noise"),
    script:
        "../scripts/noisy_test_set.py"


rule evaluate_fp32:
    """The noise curve of an FP32 model (one cell file per eps)."""
    input:
        checkpoint=path("model"),
        noisy=noise_curve("noisy"),
    output:
        noise_curve("fp32_noise_cell"),
    params:
        batch_size=config["noise"]["batch_size"],
        **extension_params(family_use),
    threads: 1
    resources:
        mem_mb=mem_mb_of(config, config["noise"]["batch_size"], tensors=3),
        runtime=scaled(5 + len(CURVE_EPS), 1),
        gpu=gpus_of(config, "evaluate"),
        device=device_of(config, "evaluate"),  # where it runs, not what it computes: no rerun (lstmptq.resources)
    conda:
        ENV
    log:
        job_log("evaluate_fp32", "dataset", "model", "seed", "noise"),
    script:
        "../scripts/evaluate_noise.py"


rule evaluate_ptq:
    """The noise curve of a quantized model: its PTQ cell's artifact, run by its family's
    plain-PyTorch engine (verified against Brevitas in the PTQ cell; no brevitas import)."""
    input:
        artifact=path("artifact"),
        vocab=path("vocab"),
        noisy=noise_curve("noisy"),
        fp32_cells=noise_curve("fp32_noise_cell"),
    output:
        noise_curve("ptq_noise_cell"),
    params:
        batch_size=config["noise"]["batch_size"],
        **extension_params(family_use),
    threads: 1  # the LSTM steps through time (small ops): curves run side by side instead
    resources:
        mem_mb=mem_mb_of(config, config["noise"]["batch_size"], tensors=3),
        runtime=scaled(5 + 2 * len(CURVE_EPS), 2),
        gpu=gpus_of(config, "evaluate"),
        device=device_of(config, "evaluate"),  # where it runs, not what it computes: no rerun (lstmptq.resources)
    conda:
        ENV
    log:
        job_log("evaluate_ptq", "dataset", "model", "seed", "strategy", "method", "recipe", "scheme", "noise"),
    script:
        "../scripts/evaluate_noise.py"
