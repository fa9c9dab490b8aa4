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

A config adds its own entries under `extensions:` (same shape); the Snakefile registers them all
and checks that each one's code can be found (`unresolved`), before the DAG is built; every job
registers those it uses (runtime.run_step), from its params (`job_extensions`), which also hold
the sha256 of each one's source (`code_fingerprints`), so that editing it reruns the job.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lstmptq.io import file_sha256

CLASSIFIERS = {
    "discriminative": "lstmptq.families.discriminative",
    "generative": "lstmptq.families.generative",
    "transformer_discriminative": "lstmptq.families.transformer_discriminative",
    "transformer_generative": "lstmptq.families.transformer_generative",
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
    "gpfq_all": "lstmptq.quant.methods:apply_gpfq_all",
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
BUILT_IN = {registry: dict(entries) for registry, entries in REGISTRIES.items()}  # before any config adds to them
PACKAGE = __package__  # entries in it are the package's own code


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


def entry_name(registry: str, name: str) -> str:
    """An entry as an error names it: with its config key where the config set it
    (`ptq method 'halve' (config key `extensions.ptq_methods.halve`)`), else where it is built in."""
    kind = f"{registry[:-1].replace('_', ' ')} {name!r}"
    if BUILT_IN[registry].get(name) == REGISTRIES[registry].get(name):
        return f"{kind} (lstmptq/registry.py)"
    return f"{kind} (config key `extensions.{registry}.{name}`)"


def last_line(err: BaseException) -> str:
    """The last line of an error as Python prints it, with where it was raised: what a failed import
    of an extension says in place of its traceback."""
    if isinstance(err, SyntaxError):  # its own file and line (its last line would not say where)
        return f"{type(err).__name__}: {err.msg} ({err.filename}, line {err.lineno})"
    frames = traceback.extract_tb(err.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return traceback.format_exception_only(type(err), err)[-1].strip() + where


def lookup(registry: str, name: str) -> Any:
    """The module or object registered under `name`, imported now. Whatever its import raises is
    a RegistryError that names the entry (and its config key) and the error's last line."""
    ref = reference(registry, name)
    target, _, attribute = ref.partition(":")
    try:
        module = _import_file(target) if target.endswith(".py") else importlib.import_module(target)
    except FileNotFoundError as err:
        raise RegistryError(f"{entry_name(registry, name)}: cannot import {target!r} ({err})") from err
    except Exception as err:  # the extension's own code failed at import: any error at all
        raise RegistryError(f"{entry_name(registry, name)}: cannot import {target!r}: {last_line(err)}") from err
    if not attribute:
        return module
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise RegistryError(f"{entry_name(registry, name)}: {target!r} has no {attribute!r}") from None


def _import_file(file: str):
    path = Path(file).resolve()
    # one module per file: two extensions' `kinds.py` in different folders are two modules
    name = f"lstmptq_extension_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise FileNotFoundError(f"{file} not found (paths are relative to the directory snakemake runs in)")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:  # not half a module for the next lookup
        del sys.modules[name]
        raise
    return module


# ---- an entry's code, found without importing it ----------------------------------------------


def module_spec(module: str) -> importlib.machinery.ModuleSpec | None:
    """Where `import module` would find it, found without importing it or its parents; None if
    nowhere. (`importlib.util.find_spec("a.b")` imports package `a`, running its __init__, which
    may import torch or fail: no check to run while the DAG is built.) The top level is found by
    find_spec, which imports nothing; each further part in its parent's folders, as the import
    system searches them. Not followed: a package that extends its own __path__ when imported
    (pkgutil.extend_path), or a custom importer below the top level."""
    top, *parts = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
        for depth in range(1, len(parts) + 1):
            if spec is None or spec.submodule_search_locations is None:
                return None
            name = ".".join([top, *parts[:depth]])
            spec = importlib.machinery.PathFinder.find_spec(name, list(spec.submodule_search_locations))
    except (ImportError, ValueError):  # e.g. an empty part ("a..b")
        return None
    return spec


def source_file(ref: str) -> str | None:
    """The file an entry's code lives in: a `.py` path as written, else its module's file (None for
    a module without one: a namespace package, a built-in module)."""
    target = ref.partition(":")[0]
    if target.endswith(".py"):
        return target
    spec = module_spec(target)
    return spec.origin if spec is not None and spec.has_location else None


def unresolved(extensions: dict[str, dict[str, str]] | None) -> list[str]:
    """What is wrong with the code of a config's `extensions:` entries, found without importing
    any: a file that does not exist or does not compile, a module that the import path does not
    hold. Run before the DAG is built, so that a PTQ method or calibration kind that cannot load
    fails there, not in every job that uses it. An error at import shows in the job (`lookup`)."""
    problems = []
    for registry, entries in (extensions or {}).items():
        for name, ref in entries.items():
            key, target = f"config key `extensions.{registry}.{name}`", ref.partition(":")[0]
            if target.endswith(".py") and not Path(target).is_file():
                problems.append(
                    f"{key}: file {target!r} not found (paths are relative to the directory snakemake runs in)"
                )
                continue
            if not target.endswith(".py") and module_spec(target) is None:
                problems.append(
                    f"{key}: no module {target!r} on the import path; give a .py file (relative to the "
                    f"directory snakemake runs in) or a module that `python -c 'import {target}'` finds"
                )
                continue
            file = source_file(ref)
            if file is not None and file.endswith(".py"):
                try:
                    compile(Path(file).read_bytes(), file, "exec")
                except (SyntaxError, ValueError) as err:  # ValueError: a null byte
                    problems.append(f"{key}: {file!r} does not compile: {last_line(err)}")
    return problems


# ---- what a job registers, and the fingerprints that rerun it ----------------------------------


def job_extensions(
    extensions: dict[str, dict[str, str]] | None, uses: Iterable[tuple[str, str]]
) -> dict[str, dict[str, str]]:
    """The config's `extensions:` entries among `uses` ((registry, name) pairs a job looks up), in
    the shape `register` takes: a job's params hold only these, so that adding or editing an
    extension reruns the jobs that use it and no other (a noise model retrains nothing)."""
    picked: dict[str, dict[str, str]] = {}
    for registry, name in uses:
        ref = (extensions or {}).get(registry, {}).get(name)
        if ref is not None:
            picked.setdefault(registry, {})[name] = ref
    return picked


def code_fingerprints(extensions: dict[str, dict[str, str]]) -> dict[str, str]:
    """{file or module as written: sha256 of its source file} of `extensions`' entries: a job's
    param, so that editing an extension reruns the jobs that use it (Snakemake's code trigger
    covers a rule's own script only). Only the entry's own file: a package's __init__.py, not
    the modules it imports. The package's own modules (lstmptq.*) are not hashed, as no edit
    under src/lstmptq/ reruns anything by itself (README: rerun with -R)."""
    found = {}
    for entries in extensions.values():
        for ref in entries.values():
            target = ref.partition(":")[0]
            own = not target.endswith(".py") and target.partition(".")[0] == PACKAGE
            file = None if own else source_file(ref)
            if file is not None:
                found[target] = _sha256(Path(file).resolve())
    return dict(sorted(found.items()))


_HASHED: dict[tuple, str] = {}  # params are evaluated per job: hash each version of a file once


def _sha256(path: Path) -> str:
    stat = path.stat()
    stamp = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
    if stamp not in _HASHED:
        _HASHED[stamp] = file_sha256(path)
    return _HASHED[stamp]


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
            f"{entry_name('classifiers', name)}: {reference('classifiers', name)!r} lacks {missing} "
            "(docs/extending.md lists what a family provides)"
        )
    return module


def architecture_of(name: str) -> tuple[str, str]:
    """(architecture, kind) of classifier family `name`: what the tables group by and what the
    findings compare within an architecture (generative vs discriminative). A family says so
    with ARCHITECTURE and KIND; one that does not is an architecture and a kind of its own."""
    module = family(name)
    return getattr(module, "ARCHITECTURE", name), getattr(module, "KIND", name)
