"""The extension points: every variant of the study, one line each. Stdlib only at import.

An entry maps a name (as used in the config and in paths) to where its code lives: a dotted
module path, or a `.py` file (relative to the directory snakemake runs in), optionally with
`:attribute`. Nothing is imported until a job asks for it, so the DAG builds without torch.

- classifier family: a module with FAMILY_API (below): resource hints, build, quantize, export,
  engine, KS probes (see lstmptq/families/discriminative.py and docs/extending.md);
- calibration kind: a function (labels, label_names, size, definition, strategy, rng) -> indices;
- PTQ method: a function (qmodel, family, batches) -> None, run after calibration;
- noise model: a module with check(settings) and corrupt(text, eps, seed, document, **settings);
- scale statistic: an observer class (lstmptq.quant.observers.Observer), keyed by its one-letter
  scheme modifier (`w4a4m`: max).

A config adds its own entries under `extensions:` (same shape); the Snakefile and every job
(through runtime.run_step) register them before anything is looked up.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

CLASSIFIERS = {
    "discriminative": "lstmptq.families.discriminative",
    "generative": "lstmptq.families.generative",
}
CALIBRATION_KINDS = {
    "balanced": "lstmptq.data.calibration:balanced",
    "random": "lstmptq.data.calibration:uniform",
    "skewed": "lstmptq.data.calibration:skewed",
    "single_class": "lstmptq.data.calibration:single_class",
}
PTQ_METHODS = {
    "plain": "lstmptq.quant.methods:nearest_rounding",
    "gpfq": "lstmptq.quant.methods:apply_gpfq",
    "gpfq_lstm": "lstmptq.quant.lstm.gpfq:apply_gpfq_lstm",
}
NOISE_MODELS = {
    "char_substitution": "lstmptq.data.noise",
}
STATISTICS = {  # scale statistics of activation quantizers, by their scheme modifier letter (observers.py)
    "p": "lstmptq.quant.observers:RunningPercentile",
    "m": "lstmptq.quant.observers:PooledMax",
    "e": "lstmptq.quant.observers:PooledMSE",
    "k": "lstmptq.quant.observers:Fixed",
}

REGISTRIES = {
    "classifiers": CLASSIFIERS,
    "calibration_kinds": CALIBRATION_KINDS,
    "ptq_methods": PTQ_METHODS,
    "noise_models": NOISE_MODELS,
    "statistics": STATISTICS,
}


# Where the package's modules moved when it was split into subpackages: an old reference in a
# config's `extensions:` is refused with the new one (no compatibility shims).
MOVED = {
    "lstmptq.data": "lstmptq.data.sources",
    "lstmptq.tokenizer": "lstmptq.data.tokenizer",
    "lstmptq.calibration": "lstmptq.data.calibration",
    "lstmptq.noise": "lstmptq.data.noise",
    "lstmptq.models": "lstmptq.models.lstm",
    "lstmptq.decoding": "lstmptq.models.decoding",
    "lstmptq.training": "lstmptq.models.training",
    "lstmptq.baseline": "lstmptq.models.baseline",
    "lstmptq.artifact": "lstmptq.quant.artifact",
    "lstmptq.engine": "lstmptq.quant.engine",
    "lstmptq.diagnostics": "lstmptq.quant.diagnostics",
    "lstmptq.recurrent_gpfq": "lstmptq.quant.lstm.recurrent_gpfq",
    "lstmptq.ptq_passes": "lstmptq.quant.passes",
    "lstmptq.quant:nearest_rounding": "lstmptq.quant.methods:nearest_rounding",
    "lstmptq.quant:apply_gpfq": "lstmptq.quant.methods:apply_gpfq",
    "lstmptq.quant:apply_gpfq_lstm": "lstmptq.quant.lstm.gpfq:apply_gpfq_lstm",
    "lstmptq.quant": "lstmptq.quant.build, .state, .methods or .lstm.build",
    "lstmptq.ks": "lstmptq.evaluation.ks",
    "lstmptq.metrics": "lstmptq.evaluation.metrics",
    "lstmptq.tables": "lstmptq.report.tables",
    "lstmptq.findings": "lstmptq.report.findings",
    "lstmptq.plots": "lstmptq.report.plots",
    "lstmptq.design_space": "lstmptq.report.design_space",
}


class RegistryError(ValueError):
    """An unknown name or an entry whose code cannot be found: the message says where to add it."""


def moved(ref: str) -> str | None:
    """The new reference of a module path from before the package had subpackages, else None."""
    if ref in MOVED:
        return MOVED[ref]
    target, colon, attribute = ref.partition(":")
    if target not in MOVED:
        return None
    if target == "lstmptq.quant":  # split over several modules: say which
        return MOVED[target]
    return MOVED[target] + colon + attribute


def register(extensions: dict[str, dict[str, str]] | None) -> None:
    """Add a config's `extensions:` entries (registry name -> {name: reference})."""
    for registry, entries in (extensions or {}).items():
        if registry not in REGISTRIES:
            raise RegistryError(
                f"config key `extensions.{registry}`: unknown extension point; use one of {sorted(REGISTRIES)}"
            )
        for name, ref in entries.items():
            if new := moved(ref):
                raise RegistryError(f"config key `extensions.{registry}.{name}`: {ref!r} has moved; write {new!r}")
        REGISTRIES[registry].update(entries)


def reference(registry: str, name: str) -> str:
    entries = REGISTRIES[registry]
    if name not in entries:
        raise RegistryError(
            f"unknown {registry[:-1].replace('_', ' ')} {name!r}; known: {sorted(entries)}. "
            f"Register yours in lstmptq/registry.py or under `extensions.{registry}` in your config (docs/extending.md)"
        )
    return entries[name]


def lookup(registry: str, name: str) -> Any:
    """The module or object registered under `name`, imported now."""
    ref = reference(registry, name)
    target, _, attribute = ref.partition(":")
    try:
        module = _import_file(target) if target.endswith(".py") else importlib.import_module(target)
    except (ImportError, FileNotFoundError) as err:
        raise RegistryError(f"{registry}.{name}: cannot import {target!r} ({err})") from err
    if not attribute:
        return module
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise RegistryError(f"{registry}.{name}: {target!r} has no {attribute!r}") from None


def _import_file(file: str):
    path = Path(file).resolve()
    name = f"lstmptq_extension_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise FileNotFoundError(f"{file} not found (paths are relative to the directory snakemake runs in)")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


FAMILY_API = (
    "SETTINGS", "GPU_STAGES", "TRAIN_MINUTES_PER_EPOCH_MB", "LOGITS_MEMORY", "GPFQ_LAYER",
    "build", "quantize", "export", "engine", "activations", "weights",
)  # fmt: skip


def family(name: str):
    """The classifier family module of `name`, with everything a family provides (docs/extending.md)."""
    module = lookup("classifiers", name)
    missing = [attribute for attribute in FAMILY_API if not hasattr(module, attribute)]
    if missing:
        raise RegistryError(
            f"classifiers.{name}: {reference('classifiers', name)!r} lacks {missing} "
            "(docs/extending.md lists what a family provides)"
        )
    return module
