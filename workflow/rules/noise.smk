# The noise stage: a noisy test set per eps (shared by all models), then one cell per
# model x eps. Each cell is its own file, so adding an eps schedules only the new cells.
# A cell's drops are taken against the same model at eps 0 and the FP32 model at the same eps.

CLEAN = format_eps(0)
FP32_CELL = "results/{dataset}/{model}/seed{seed}/fp32/noise/eps{eps}.json"
PTQ_CELL = "results/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/noise/eps{eps}.json"


def clean_reference(pattern):
    """Input function: the same model's eps-0 cell, or nothing for the eps-0 cell itself."""
    return lambda w: [] if float(w.eps) == 0 else pattern.format(**{**dict(w.items()), "eps": CLEAN})


rule noisy_test_set:
    """Character-substitution noise at one eps on the raw test text, encoded with the vocabulary."""
    input:
        data="results/{dataset}/data/test.parquet",
        vocab="results/{dataset}/tokens/vocab.json",
    output:
        "results/{dataset}/noise/eps{eps}.parquet",
    params:
        seed=config["noise"]["seed"],
        alphabet=config["noise"]["alphabet"],
    conda:
        ENV
    log:
        "logs/{dataset}/noise/eps{eps}.log",
    script:
        "../scripts/noisy_test_set.py"


rule evaluate_fp32:
    """One noise cell of an FP32 model."""
    input:
        checkpoint="results/{dataset}/{model}/seed{seed}/fp32/model.pt",
        noisy="results/{dataset}/noise/eps{eps}.parquet",
        clean_cell=clean_reference(FP32_CELL),
    output:
        FP32_CELL,
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
        "logs/{dataset}/{model}/seed{seed}/fp32/noise/eps{eps}.log",
    benchmark:
        "benchmarks/{dataset}/{model}/seed{seed}/fp32/noise/eps{eps}.tsv"
    script:
        "../scripts/evaluate_noise.py"


rule evaluate_ptq:
    """One noise cell of a quantized model: its PTQ cell's artifact, run by the plain-PyTorch
    engine (verified against Brevitas in the PTQ cell; no brevitas import, no re-calibration)."""
    input:
        artifact="results/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/quantized.safetensors",
        vocab="results/{dataset}/tokens/vocab.json",
        noisy="results/{dataset}/noise/eps{eps}.parquet",
        clean_cell=clean_reference(PTQ_CELL),
        fp32_cell=FP32_CELL,
    output:
        PTQ_CELL,
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
        "logs/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/noise/eps{eps}.log",
    benchmark:
        "benchmarks/{dataset}/{model}/seed{seed}/{strategy}/{method}/w{bits}/noise/eps{eps}.tsv"
    script:
        "../scripts/evaluate_noise.py"
