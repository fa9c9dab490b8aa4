"""What each job asks a scheduler for: memory, run time and GPUs, from the config and input sizes.

Snakemake hands these to cluster executors (SLURM: --mem, --time, --gpus); locally it enforces
only the totals a profile caps (the default profile caps `gpu`). The numbers are upper bounds
fitted to measured jobs on the embedded data (see README, "Paper-scale run"); each retry
(`--retries`) asks for proportionally more. Imported by the Snakefile: stdlib only.
"""

from __future__ import annotations

from typing import Any

MIB = 2**20


# the jobs worth a GPU: training, and the generative model's PTQ and evaluation (it scores every
# label with a vocabulary-sized softmax); the discriminative model's are cheap on a CPU
GPU_STAGES = {"train": {"discriminative", "generative"}, "ptq": {"generative"}, "evaluate": {"generative"}}


def job_device(config: dict[str, Any], stage: str, kind: str) -> str:
    """The `device` a model job runs on: the config's for GPU-worthy jobs, else `cpu`."""
    return config["device"] if kind in GPU_STAGES[stage] else "cpu"


def gpu(config: dict[str, Any], stage: str, kind: str) -> int:
    """GPUs a job asks the scheduler for: one when it runs on CUDA (`auto` never asks)."""
    return 1 if job_device(config, stage, kind).startswith("cuda") else 0


def logits_mb(config: dict[str, Any], batch_size: int) -> float:
    """The generative model's largest tensor: batch x positions x vocabulary floats (upper
    bound: the vocabulary cap `tokenizer.max_size`)."""
    tokenizer = config["tokenizer"]
    return 4 * batch_size * (tokenizer["max_len"] + 1) * tokenizer["max_size"] / MIB


def model_job_mem_mb(config: dict[str, Any], kind: str, batch_size: int, tensors: int) -> int:
    """Memory of a job that runs a model: interpreter + torch (+ brevitas) ~1.5 GB, plus `tensors`
    logits-sized tensors for the generative model (forward, softmax, gradients)."""
    return int(1500 + (tensors * logits_mb(config, batch_size) if kind == "generative" else 0))


def scaled(base: float, per_input_mb: float):
    """A resource callable: `base + per_input_mb * (input size in MB)`, times the attempt."""
    return lambda wildcards, input, attempt: int((base + per_input_mb * input.size_mb) * attempt)


# What the rules use: callables of a job's wildcards (and attempt), as Snakemake passes them.


def device_of(config: dict[str, Any], stage: str):
    return lambda wildcards: job_device(config, stage, wildcards.model)


def gpus_of(config: dict[str, Any], stage: str):
    return lambda wildcards: gpu(config, stage, wildcards.model)


def mem_mb_of(config: dict[str, Any], batch_size: int, tensors: int):
    return lambda wildcards, attempt: attempt * model_job_mem_mb(config, wildcards.model, batch_size, tensors)
