"""Every built-in registry entry resolves and provides what its extension point asks for; old
module paths are refused with the new one (lstmptq.registry)."""

import inspect

import pytest
import yaml
from conftest import REPO

from lstmptq import registry
from lstmptq.config import ConfigError, check_config
from lstmptq.quant.observers import Observer

ENTRIES = [(kind, name) for kind, entries in registry.REGISTRIES.items() for name in list(entries)]


@pytest.mark.parametrize(("kind", "name"), ENTRIES, ids=[f"{k}.{n}" for k, n in ENTRIES])
def test_every_built_in_entry_resolves_and_conforms(kind, name):
    target = registry.lookup(kind, name)
    if kind == "classifiers":
        family = registry.family(name)
        for attribute in registry.FAMILY_API:
            value = getattr(family, attribute)
            if attribute.islower():
                assert callable(value), f"{name}.{attribute} is not a function"
        assert set(inspect.signature(family.quantize).parameters) == {"model", "plan"}
    elif kind == "calibration_kinds":
        assert list(inspect.signature(target).parameters)[:6] == [
            "labels",
            "label_names",
            "size",
            "definition",
            "strategy",
            "rng",
        ]
    elif kind == "ptq_methods":
        assert len(inspect.signature(target).parameters) == 3  # (qmodel, family, batches)
    elif kind == "noise_models":
        assert callable(target.check) and callable(target.corrupt)
    elif kind == "statistics":
        assert issubclass(target, Observer) and len(name) == 1
        assert target(percentile=99.0).threshold(4, True) is None or name == "k"  # nothing seen yet
    else:
        pytest.fail(f"registry {kind!r} has no conformance check here")


def test_every_registry_has_a_conformance_check():
    assert set(registry.REGISTRIES) == {"classifiers", "calibration_kinds", "ptq_methods", "noise_models", "statistics"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("lstmptq.quant:apply_gpfq", "lstmptq.quant.methods:apply_gpfq"),
        ("lstmptq.quant:apply_gpfq_lstm", "lstmptq.quant.lstm.gpfq:apply_gpfq_lstm"),
        ("lstmptq.calibration:balanced", "lstmptq.data.calibration:balanced"),
        ("lstmptq.noise", "lstmptq.data.noise"),
    ],
)
def test_an_old_module_path_names_the_new_one(old, new):
    with pytest.raises(registry.RegistryError, match=f"has moved; write '{new}'"):
        registry.register({"ptq_methods": {"mine": old}})


@pytest.mark.parametrize("letter", ["c", "r", "f", "qq"])  # the schema refuses upper case
def test_a_statistic_letter_that_a_scheme_could_not_tell_apart_is_refused(letter):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["extensions"] = {"statistics": {letter: "my_stats.py:Clip"}}
    with pytest.raises(
        ConfigError, match=rf"extensions\.statistics\.{letter}`: a statistic is named by one lowercase letter"
    ):
        check_config(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
