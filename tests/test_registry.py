"""Every built-in registry entry resolves and provides what its extension point asks for; old
module paths are refused with the new one (lstmptq.registry)."""

import hashlib
import inspect
import sys

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


def test_an_extension_that_raises_at_import_names_its_config_key_and_the_error(tmp_path):
    (tmp_path / "my_method.py").write_text("import os\nraise ImportError('No module named brevitas_nightly')\n")
    registry.register({"ptq_methods": {"my_method": f"{tmp_path / 'my_method.py'}:halve"}})
    for _ in range(2):  # not half a module the second time
        with pytest.raises(registry.RegistryError) as raised:
            registry.lookup("ptq_methods", "my_method")
        assert str(raised.value) == (
            f"ptq method 'my_method' (config key `extensions.ptq_methods.my_method`): cannot import "
            f"'{tmp_path / 'my_method.py'}': ImportError: No module named brevitas_nightly "
            f"({tmp_path / 'my_method.py'}, line 2)"
        )


def test_a_built_in_entry_is_named_by_the_registry_and_an_overridden_one_by_its_config_key():
    assert (
        registry.entry_name("noise_models", "char_substitution")
        == "noise model 'char_substitution' (lstmptq/registry.py)"
    )
    registry.register({"noise_models": {"char_substitution": "my_noise.py"}})
    assert registry.entry_name("noise_models", "char_substitution").endswith(
        "(config key `extensions.noise_models.char_substitution`)"
    )


def test_two_extension_files_of_one_name_are_two_modules(tmp_path):
    for folder, answer in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "kinds.py").write_text(f"def pick(*args):\n    return {answer}\n")
    registry.register({"ptq_methods": {n: f"{tmp_path / n / 'kinds.py'}:pick" for n in ("a", "b")}})
    assert [registry.lookup("ptq_methods", n)() for n in ("a", "b")] == [1, 2]


@pytest.fixture
def package_that_fails_at_import(tmp_path, monkeypatch):
    """`heavy` raises when imported (as one that imports torch might); `heavy.methods` is plain."""
    (tmp_path / "heavy").mkdir()
    (tmp_path / "heavy" / "__init__.py").write_text("raise RuntimeError('imported heavy')\n")
    (tmp_path / "heavy" / "methods.py").write_text("def halve(qmodel, family, batches):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "heavy"


def test_extension_code_is_checked_without_importing_it(package_that_fails_at_import, tmp_path):
    (tmp_path / "syntax.py").write_text("def halve(:\n")
    found = registry.unresolved(
        {
            "ptq_methods": {"ok": "heavy.methods:halve", "nope": "heavy.nothing:halve", "file": "absent.py:halve"},
            "calibration_kinds": {
                "bad": f"{tmp_path / 'syntax.py'}:first",
                "builtin": "lstmptq.data.calibration:uniform",
            },
        }
    )
    assert "heavy" not in sys.modules  # its __init__ would have raised
    assert len(found) == 3, found
    assert found[0].startswith("config key `extensions.ptq_methods.nope`: no module 'heavy.nothing' on the import path")
    assert found[1].startswith("config key `extensions.ptq_methods.file`: file 'absent.py' not found")
    assert (
        found[2].startswith("config key `extensions.calibration_kinds.bad`: ")
        and "does not compile: SyntaxError" in found[2]
    )


def test_a_job_gets_only_the_entries_it_uses_with_the_sha256_of_their_code(package_that_fails_at_import, tmp_path):
    noise = tmp_path / "swap.py"
    noise.write_text("def check(settings):\n    pass\n")
    extensions = {
        "noise_models": {"swap": str(noise)},
        "ptq_methods": {"halve": "heavy.methods:halve", "plain2": "lstmptq.quant.methods:nearest_rounding"},
    }
    used = registry.job_extensions(
        extensions, [("ptq_methods", "halve"), ("ptq_methods", "plain2"), ("classifiers", "generative")]
    )
    assert used == {"ptq_methods": {"halve": "heavy.methods:halve", "plain2": "lstmptq.quant.methods:nearest_rounding"}}
    assert registry.job_extensions(extensions, [("classifiers", "generative")]) == {}
    method_sha = hashlib.sha256((package_that_fails_at_import / "methods.py").read_bytes()).hexdigest()
    assert registry.code_fingerprints(used) == {
        "heavy.methods": method_sha
    }  # the package's own (lstmptq.*): not hashed
    assert "heavy" not in sys.modules
    before = registry.code_fingerprints(extensions)[str(noise)]
    noise.write_text("def check(settings):\n    return None\n")
    assert registry.code_fingerprints(extensions)[str(noise)] != before


def test_a_job_whose_extension_fails_at_import_logs_one_line_naming_it(tmp_path, root_logging_restored):
    """In a job (runtime.run_step registers its params' entries): the message, not a traceback."""
    from lstmptq.runtime import run_step

    (tmp_path / "kinds.py").write_text("import numpy\nnumpy.no_such_function()\n")

    def calibration_subset():
        registry.lookup("calibration_kinds", "first")

    log = tmp_path / "job.log"
    with pytest.raises(SystemExit):
        run_step(
            str(log), calibration_subset, extensions={"calibration_kinds": {"first": f"{tmp_path}/kinds.py:first"}}
        )
    said = log.read_text()
    assert "Traceback" not in said
    assert (
        "step calibration_subset failed: RegistryError: calibration kind 'first' (config key "
        "`extensions.calibration_kinds.first`): cannot import "
    ) in said
    assert "AttributeError: module 'numpy' has no attribute 'no_such_function'" in said
