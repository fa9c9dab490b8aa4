"""Config checks that a JSON schema cannot express. Imported by the Snakefile: stdlib only."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A bad config value: the message names the key and what to do."""


def check_config(config: dict[str, Any]) -> None:
    """Run after schema validation, before any job starts."""
    sources = config["sources"]
    for name in config["datasets"]:
        if name not in sources:
            raise ConfigError(
                f"config key `datasets` lists {name!r}, which is not a key of `sources` "
                f"(known: {sorted(sources)}). Add a `sources.{name}` entry or fix the name."
            )
        spec = sources[name]
        if spec["kind"] == "embedded" and spec["valid_fraction"] + spec["test_fraction"] >= 1:
            raise ConfigError(f"sources.{name}: valid_fraction + test_fraction must be < 1")
        if spec["kind"] == "files":
            for split in ("train", "valid", "test"):
                path = spec.get(split)
                if path and not Path(path).is_file():
                    raise ConfigError(f"sources.{name}.{split}: file {path!r} not found (paths are relative to the directory snakemake runs in)")
    definitions = config["calibration"]["definitions"]
    for strategy in config["calibration"]["strategies"]:
        if strategy not in definitions:
            raise ConfigError(
                f"config key `calibration.strategies` lists {strategy!r}, which is not a key of "
                f"`calibration.definitions` (known: {sorted(definitions)})"
            )
    if "fp32" in definitions:
        raise ConfigError("calibration.definitions: `fp32` names the unquantized models' cells; call the strategy something else")

    from .noise import check_alphabet

    try:
        check_alphabet(config["noise"]["alphabet"])
    except ValueError as err:
        raise ConfigError(f"config key `noise.alphabet`: {err}") from None
    for eps in config["noise"]["eps"]:
        if float(format_eps(eps)) != eps:
            raise ConfigError(f"config key `noise.eps`: {eps!r} has more than 6 significant digits; round it (it names files)")


def source_files(spec: dict[str, Any]) -> list[str]:
    """Local files a source reads (inputs of its data rule, so editing them reruns it)."""
    if spec["kind"] != "files":
        return []
    return [spec[s] for s in ("train", "valid", "test") if spec.get(s)]


# model hyperparameters each classifier reads: its params hold only these, so changing e.g. the
# generative prior does not retrain the discriminative model
MODEL_KEYS = {
    "discriminative": ("embedding_dim", "hidden_dim"),
    "generative": ("embedding_dim", "hidden_dim", "label_embedding_dim", "prior"),
}


def model_settings(config: dict[str, Any], kind: str) -> dict[str, Any]:
    """The `model` settings that classifier `kind` uses (dropout resolved to its own rate)."""
    return {**{key: config["model"][key] for key in MODEL_KEYS[kind]}, "dropout": config["model"]["dropout"][kind]}


def ptq_methods(config: dict[str, Any]) -> list[str]:
    """Method names of the PTQ grid: each method, and each with one stage kept at 8 bits."""
    ptq = config["ptq"]
    return [*ptq["methods"], *(f"{m}-{stage}8" for m in ptq["methods"] for stage in ptq["keep_8bit_stages"])]


def format_eps(eps: float) -> str:
    """The eps part of a cell's file name: `0`, `0.01`, `0.002` (float() reads it back)."""
    return f"{eps:g}"
