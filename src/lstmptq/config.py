"""Config checks that a JSON schema cannot express. Imported by the Snakefile: stdlib at import
(jsonschema and PyYAML, which Snakemake brings, inside the one check that needs them)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

from lstmptq import recipes
from lstmptq.fingerprint import CACHE_FILE, fingerprints
from lstmptq.grid import axis_problems, format_eps
from lstmptq.grid import path as result_path
from lstmptq.registry import RegistryError, family, lookup, reference, register, unresolved
from lstmptq.scheme import statistic_problems


class ConfigError(ValueError):
    """A bad config value: the message names the key and what to do."""


def config_key(path) -> str:
    """`ptq.bits[0]` from a JSON path such as deque(['ptq', 'bits', 0])."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")


# keys that moved: an older config gets told where, rather than "additional properties"
MOVED_KEYS = {
    "noise.alphabet": (
        "noise.definitions.char_substitution.alphabet",
        "noise models are a grid axis now, `noise.models`",
    )
}


def check_moved_keys(config: dict[str, Any]) -> None:
    """Run before schema validation."""
    for old, (new, why) in MOVED_KEYS.items():
        section, _, key = old.rpartition(".")
        if isinstance(config.get(section), dict) and key in config[section]:
            raise ConfigError(f"config key `{old}` has moved to `{new}` ({why}); move it there")


def check_whole_numbers(config: dict[str, Any], schema_file: str | Path) -> None:
    """Refuse a float wherever the schema asks for an integer.

    JSON Schema's `integer` admits 4.0, and YAML reads `4.0` as a float: a bit width of 4.0
    names files (`w4.0`) that no rule makes, and a batch size of 32.0 breaks the code that
    slices with it. (jsonschema and PyYAML come with Snakemake.)
    """
    import jsonschema
    import yaml

    schema = yaml.safe_load(Path(schema_file).read_text(encoding="utf-8"))
    base = jsonschema.Draft202012Validator
    whole = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    errors = sorted(
        jsonschema.validators.extend(base, type_checker=whole)(schema).iter_errors(config),
        key=lambda e: config_key(e.absolute_path),
    )
    if errors:
        raise ConfigError(
            "\n".join(
                (
                    f"config key `{config_key(e.absolute_path)}`: {e.instance!r} is not a whole number; "
                    f"write {int(e.instance)}"
                )
                if isinstance(e.instance, float) and e.instance.is_integer()
                else f"config key `{config_key(e.absolute_path)}`: {e.message}"
                for e in errors
            )
        )


def check_config(config: dict[str, Any], schema_file: str | Path) -> None:
    """Run after validation against `schema_file` (which fills in defaults), before any job starts."""
    check_whole_numbers(config, schema_file)
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
        if spec["kind"] != "embedded" and spec["label_column"] in spec["text_columns"]:
            raise ConfigError(
                f"config keys `sources.{name}.text_columns` and `sources.{name}.label_column`: the label column "
                f"{spec['label_column']!r} is also a text column, so every document would carry its own answer; "
                f"remove {spec['label_column']!r} from `sources.{name}.text_columns`"
            )
        if spec["kind"] == "files":
            check_split_files(name, spec)
        check_recorded_duplicates(name, spec, result_path("labels", dataset=name))
    check_variants(config)
    for eps in config["noise"]["eps"]:
        if float(format_eps(eps)) != eps:
            raise ConfigError(
                f"config key `noise.eps`: {eps!r} has more than 6 significant digits; round it (it names files)"
            )
    if config["deterministic"] and config["device"].startswith("cuda"):
        raise ConfigError(
            "config keys `deterministic: true` and `device: cuda`: deterministic mode runs on the CPU; "
            "set `device: auto` or `cpu`"
        )
    problems = axis_problems(config)
    if problems:
        raise ConfigError("\n".join(problems))


def check_variants(config: dict[str, Any]) -> None:
    """Every classifier, PTQ method, calibration kind and noise model is registered (the config's
    `extensions` first, each one's code found without importing it: registry.unresolved), every
    strategy and noise model of the grid is defined, and each noise model accepts its settings."""
    calibration, noise = config["calibration"], config["noise"]
    try:
        register(config.get("extensions"))
    except RegistryError as err:
        raise ConfigError(str(err)) from None
    if statistic_problems():
        raise ConfigError("\n".join(statistic_problems()))
    if problems := unresolved(config.get("extensions")):  # unused entries too: each is code someone meant to run
        raise ConfigError("\n".join(problems))
    used = [("ptq.methods", "ptq_methods", name) for name in config["ptq"]["methods"]]
    used += [
        (f"ptq.extra[{i}].methods", "ptq_methods", name)
        for i, block in enumerate(config["ptq"]["extra"])
        for name in block.get("methods", [])
    ]
    used += [("design_space.methods", "ptq_methods", name) for name in config["design_space"]["methods"]]
    used += [
        (f"calibration.definitions.{n}.kind", "calibration_kinds", d["kind"])
        for n, d in calibration["definitions"].items()
    ]
    used += [(f"noise.definitions.{n}.kind", "noise_models", d["kind"]) for n, d in noise["definitions"].items()]
    used += [(f"model.dropout.{name}", "classifiers", name) for name in config["model"]["dropout"]]  # a misspelt family
    for key, registry, name in used:
        try:
            reference(registry, name)
        except RegistryError as err:
            raise ConfigError(f"config key `{key}`: {err}") from None
    for name in config["classifiers"]:  # family modules are light: import them now, not in a job
        try:
            family(name)
        except RegistryError as err:
            raise ConfigError(f"config key `classifiers`: {err}") from None
    space = config["design_space"]
    problems = recipes.problems(config)
    problems += [
        f"config key `design_space.recipe`: the {name} family cannot build recipe {space['recipe']!r} "
        f"(it declares {', '.join(sorted(recipes.declared(name)))})"
        for name in config["classifiers"]
        if space["methods"] and space["recipe"] not in recipes.declared(name)
    ]
    if problems:
        raise ConfigError("\n".join(problems))
    strategies = ("design_space.strategy", [space["strategy"]] if space["methods"] else [], calibration["definitions"])
    for key, names, definitions in (
        ("calibration.strategies", calibration["strategies"], calibration["definitions"]),
        strategies,
        ("noise.models", noise["models"], noise["definitions"]),
    ):
        for name in names:
            if name not in definitions:
                section = key.split(".")[0]
                raise ConfigError(
                    f"config key `{key}` lists {name!r}, which is not a key of `{section}.definitions` "
                    f"(known: {sorted(definitions)})"
                )
    for name, definition in noise["definitions"].items():
        try:
            lookup("noise_models", definition["kind"]).check({k: v for k, v in definition.items() if k != "kind"})
        except ValueError as err:  # RegistryError too
            raise ConfigError(f"config key `noise.definitions.{name}`: {err}") from None


# why two splits may not be one file, and what to do instead
_SAME_FILE = {
    ("train", "valid"): "early stopping would pick the epoch that memorises train best. Give a valid file "
    "that shares no document with train, or set `valid: null` to carve one from train",
    ("train", "test"): "test accuracy would measure memory, not classification. Give a test file of other documents",
    ("valid", "test"): "test accuracy would measure the documents early stopping chose by. Give a test file "
    "of other documents",
}


def check_split_files(name: str, spec: dict[str, Any]) -> None:
    """A local-files source's files exist, and no two splits are the same file."""
    for split, file in split_paths(spec).items():
        if not Path(file).is_file():
            raise ConfigError(
                f"sources.{name}.{split}: file {file!r} not found "
                "(paths are relative to the directory snakemake runs in)"
            )
    for (first, first_file), (second, second_file) in combinations(split_paths(spec).items(), 2):
        if os.path.samefile(first_file, second_file):
            raise ConfigError(
                f"config keys `sources.{name}.{first}` and `sources.{name}.{second}` name the same file "
                f"{second_file!r}: {_SAME_FILE[first, second]}"
            )


# Keys of a source that do not change what its data step writes: a check's threshold, and the
# published figures its results are compared with. The data rule's params leave them out, so
# changing them reruns nothing (the threshold is checked again by check_recorded_duplicates).
NOT_DATA_KEYS = ("max_duplicate_share", "reference")


def data_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The keys of a source that change its data (the data rule's params)."""
    return {key: value for key, value in spec.items() if key not in NOT_DATA_KEYS}


def duplicate_summary(counts: dict[str, int], n_valid: int, n_test: int) -> str:
    """How many documents of valid and test occur in an earlier split (see sources.check_duplicates)."""
    return (
        f"{counts['test_in_train_or_valid']} of {n_test} test documents "
        f"({counts['test_in_train_or_valid'] / max(n_test, 1):.1%}) also occur in "
        f"train or valid ({counts['test_in_train']} in train, {counts['test_in_valid']} in valid), and "
        f"{counts['valid_in_train']} of {n_valid} valid documents in train "
        "(compared as lowercase word sequences, as the tokenizer sees them)"
    )


def duplicate_refusal(name: str, counts: dict[str, int], n_valid: int, n_test: int, limit: float) -> str | None:
    """The refusal of a test split with more than `limit` of its documents in train or valid; None within it."""
    share = counts["test_in_train_or_valid"] / max(n_test, 1)
    if share <= limit:
        return None
    accept = math.ceil(round(share * 100, 6)) / 100  # the next whole percent (0.07 * 100 is 7.000000000000001)
    return (
        f"dataset {name!r}: {duplicate_summary(counts, n_valid, n_test)}; that is more than max_duplicate_share = "
        f"{limit}, and test accuracy would partly measure memory. To accept them, set "
        f"`sources.{name}.max_duplicate_share: {accept}`; to drop from valid those in train and from test those "
        f"in train or valid, set `sources.{name}.drop_duplicates: true`."
    )


def check_recorded_duplicates(name: str, spec: dict[str, Any], labels_file: str | Path) -> None:
    """Refuse, before any job, a `max_duplicate_share` lowered below the share that the data step
    recorded in `labels_file`. The threshold is no param of the data rule (changing it must not
    retrain anything), so Snakemake would not rerun the step that checks it. Data that will be
    rebuilt anyway (other settings or files) is checked when its step runs."""
    try:
        recorded = json.loads(Path(labels_file).read_text(encoding="utf-8"))
        counts, per_split = recorded["duplicates"]["counts"], recorded["counts"]
        n_valid, n_test = sum(per_split["valid"].values()), sum(per_split["test"].values())
        same_data = data_settings(recorded["source"]) == data_settings(spec) and not spec.get("drop_duplicates")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return  # no data step yet, or a labels.json of another shape: the data step checks when it runs
    if not same_data or recorded.get("fingerprints", {}) != source_fingerprints(spec):
        return
    refusal = duplicate_refusal(name, counts, n_valid, n_test, spec.get("max_duplicate_share", 0.01))
    if refusal:
        raise ConfigError(f"{refusal} (as recorded in {labels_file})")


def reference_key(source: dict[str, Any]) -> str | None:
    """The published dataset a source's results are compared with (lstmptq.report.reference): its
    explicit `reference:` (null opts a hub source out), else a hub source's path; embedded and
    local-files sources match nothing unless they say so. Never the dataset's name."""
    if "reference" in source:
        return source["reference"]
    return source.get("path") if source.get("kind") == "hub" else None


def split_paths(spec: dict[str, Any]) -> dict[str, str]:
    """{split: file} of the local files a source reads (none unless `kind: files`)."""
    if spec["kind"] != "files":
        return {}
    return {split: spec[split] for split in ("train", "valid", "test") if spec.get(split)}


def source_files(spec: dict[str, Any]) -> list[str]:
    """Local files a source reads (inputs of its data rule)."""
    return list(split_paths(spec).values())


def source_fingerprints(spec: dict[str, Any], cache_file: str | Path | None = CACHE_FILE) -> dict[str, dict[str, Any]]:
    """{split: {"sha256", "size"}} of a source's local files: a param of its data rule, so that new
    content reruns it even in a file with an older time, and new times alone do not (lstmptq.fingerprint).
    `cache_file=None` hashes without the cache."""
    paths = split_paths(spec)
    found = fingerprints(list(paths.values()), cache_file)
    return {split: found[file] for split, file in paths.items()}


def model_settings(config: dict[str, Any], kind: str) -> dict[str, Any]:
    """The `model` settings that classifier `kind` reads (its family's SETTINGS, dropout resolved
    to its own rate): its params hold only these, so changing e.g. the generative prior does not
    retrain the discriminative model."""
    return {
        **{key: config["model"][key] for key in family(kind).SETTINGS},
        "dropout": config["model"]["dropout"].get(kind, 0.0),
    }


def read_config_file(path: str | Path) -> dict[str, Any]:
    """One YAML/JSON config file; a syntax error names the file, line and column.

    (Snakemake reads `--configfile`s itself, before the workflow runs, and its message does not
    name the file: `lstmptq-check-config FILE` does.)
    """
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(p) for p in (getattr(err, "context", None), getattr(err, "problem", None)) if p) or str(
            err
        )
        raise ConfigError(f"{path}: not valid YAML: {where}{problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{path}: a config file holds keys at its top level (`datasets: [...]`), not a {type(loaded).__name__}"
        )
    return loaded


def main(argv: list[str] | None = None) -> int:
    """`lstmptq-check-config [--workflow DIR] FILE...`: check config files as `snakemake
    --configfile FILE...` would merge them onto the workflow's config.yaml, without running it."""
    from snakemake.utils import update_config, validate

    parser = argparse.ArgumentParser(prog="lstmptq-check-config", description=main.__doc__)
    parser.add_argument("files", nargs="*", help="config files, in the order given to --configfile")
    parser.add_argument(
        "--workflow", default=".", help="the workflow's folder (holds config.yaml and workflow/schemas/); default: ."
    )
    args = parser.parse_args(argv)
    workflow = Path(args.workflow)
    schema = workflow / "workflow" / "schemas" / "config.schema.yaml"
    try:
        config = read_config_file(workflow / "config.yaml")
        for path in args.files:
            update_config(config, read_config_file(path))
        check_moved_keys(config)
        validate(config, str(schema))
        check_config(config, schema)
    except Exception as err:  # ConfigError, or Snakemake's ValidationError (it names the key)
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"ok: {', '.join(map(str, [workflow / 'config.yaml', *args.files]))}; datasets {config['datasets']}")
    return 0
