"""The study grid's axes: the config key of each, how a value is spelt in a path, and the
pattern Snakemake matches it with. Stdlib only (the Snakefile imports it before any job).

Every value of an axis becomes part of file names, and Snakemake finds the rule of a file by
these patterns: a value whose spelling the pattern does not match (a bit width of 4.0 -> `w4.0`)
would name files no rule makes, and a finished table would silently stay as it was. So each
value is spelt here and checked against its pattern before the DAG is built.
"""

from __future__ import annotations

from typing import Any

NAME = "[a-z][a-z0-9_]*"  # dataset and calibration-strategy names (also the schema's pattern)
STAGES = ("embedding", "lstm", "head")  # quantization stages that a method may keep at 8 bits

# wildcard -> the pattern its values must match in a path
WILDCARDS = {
    "dataset": NAME,
    "model": "discriminative|generative",
    "seed": "[0-9]+",
    "strategy": NAME,
    "bits": "[0-9]+",
    "method": f"(gpfq|plain)(-({'|'.join(STAGES)})8)?",
    "eps": "[0-9.e+-]+",
}


def format_eps(eps: float) -> str:
    """The eps part of a cell's file name: `0`, `0.01`, `0.002` (float() reads it back)."""
    return f"{eps:g}"


def ptq_methods(config: dict[str, Any]) -> list[str]:
    """Method names of the PTQ grid: each method, and each with one stage kept at 8 bits."""
    ptq = config["ptq"]
    return [*ptq["methods"], *(f"{m}-{stage}8" for m in ptq["methods"] for stage in ptq["keep_8bit_stages"])]


def axes(config: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """wildcard -> (the config key it comes from, its values as spelt in paths)."""
    return {
        "dataset": ("datasets", [str(d) for d in config["datasets"]]),
        "model": ("classifiers", [str(c) for c in config["classifiers"]]),
        "seed": ("seeds", [str(s) for s in config["seeds"]]),
        "strategy": ("calibration.strategies", [str(s) for s in config["calibration"]["strategies"]]),
        "bits": ("ptq.bits", [str(b) for b in config["ptq"]["bits"]]),
        "method": ("ptq.methods / ptq.keep_8bit_stages", ptq_methods(config)),
        "eps": ("noise.eps", [format_eps(e) for e in config["noise"]["eps"]]),
    }


def axis_problems(config: dict[str, Any]) -> list[str]:
    """Every axis value that its path pattern would not match, or that two values spell alike."""
    import re

    problems = []
    for wildcard, (key, values) in axes(config).items():
        for value in values:
            if not re.fullmatch(WILDCARDS[wildcard], value):
                problems.append(f"config key `{key}`: {value!r} cannot name a file (a {wildcard} must match {WILDCARDS[wildcard]!r})")
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            problems.append(f"config key `{key}`: {repeated} appear more than once (as spelt in file names); list each value once")
    return problems
