"""What each job asks a scheduler for: memory, run time and GPUs, from the config and input sizes.

Snakemake hands these to cluster executors (SLURM: --mem, --time, --gpus); locally it enforces
only the totals a profile caps (the default profile caps `gpu`). The numbers are upper bounds
fitted to measured jobs on the embedded data (docs/results.md, "Paper-scale run"); each retry
(`--retries`) asks for proportionally more. Imported by the Snakefile: stdlib only.
"""

from __future__ import annotations

from typing import Any

from lstmptq.registry import family

MIB = 2**20


def job_device(config: dict[str, Any], stage: str, kind: str) -> str:
    """The `device` a model job runs on: the config's where the family finds a GPU worth it
    (its GPU_STAGES: train, ptq, evaluate), else `cpu`."""
    return config["device"] if stage in family(kind).GPU_STAGES else "cpu"


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
    logits-sized tensors for a family with LOGITS_MEMORY (forward, softmax, gradients)."""
    return int(1500 + (tensors * logits_mb(config, batch_size) if family(kind).LOGITS_MEMORY else 0))


def scaled(base: float, per_input_mb: float):
    """A resource callable: `base + per_input_mb * (input size in MB)`, times the attempt."""
    return lambda wildcards, input, attempt: int((base + per_input_mb * input.size_mb) * attempt)


def train_minutes(config: dict[str, Any]):
    """A resource callable: training run time, from the family's measured minutes per epoch per
    MB of token files (TRAIN_MINUTES_PER_EPOCH_MB), for every epoch the config allows."""
    epochs = config["training"]["max_epochs"]
    return lambda wildcards, input, attempt: int(
        attempt * (10 + epochs * input.size_mb * family(wildcards.model).TRAIN_MINUTES_PER_EPOCH_MB)
    )


# What the rules use: callables of a job's wildcards (and attempt), as Snakemake passes them.


def device_of(config: dict[str, Any], stage: str):
    """The job's `device` setting, as a resource and not a param: it says where a job runs, not
    what it computes, and Snakemake reruns a job when its params change, never its resources (so
    `device: auto` -> `cpu` reruns nothing). Each job evaluates it again from the config, also a
    cluster job that re-parses the Snakefile, and it sits beside `gpu`, which asks for the GPU it
    needs. Each result records the device it ran on (`provenance.device`)."""
    return lambda wildcards: job_device(config, stage, wildcards.model)


def gpus_of(config: dict[str, Any], stage: str):
    return lambda wildcards: gpu(config, stage, wildcards.model)


def mem_mb_of(config: dict[str, Any], batch_size: int, tensors: int):
    return lambda wildcards, attempt: attempt * model_job_mem_mb(config, wildcards.model, batch_size, tensors)
