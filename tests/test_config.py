import copy
import json
import os
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from snakemake.utils import validate

from lstmptq import fingerprint
from lstmptq.config import ConfigError, check_config, data_settings, main, model_settings, source_fingerprints
from lstmptq.grid import BITS, NAME, axis_problems

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def checked(config):
    validate(config, SCHEMA)
    check_config(config, SCHEMA)
    return config


def test_default_config_is_valid_and_defaults_are_filled(config):
    del config["training"]["grad_clip"]
    del config["sources"]["bbc_news"]["split_seed"]
    out = checked(config)
    assert out["training"]["grad_clip"] == 5.0
    assert out["sources"]["bbc_news"]["split_seed"] == 0
    assert out["sources"]["ag_news"]["name"] is None  # hub default, not another kind's
    assert "test_fraction" not in out["sources"]["ag_news"]


def test_every_preset_is_valid(config):
    for preset in sorted((REPO / "config").glob("*.yaml")):
        merged = copy.deepcopy(config)
        for key, value in yaml.safe_load(preset.read_text()).items():
            merged[key] = {**merged[key], **value} if isinstance(value, dict) and key in merged else value
        checked(merged)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["sources"]["bbc_news"].update(kind="web"), "web"),
        (lambda c: c["training"].update(lr="fast"), "fast"),
        (lambda c: c["training"].update(batch_size=0), "0"),
        (lambda c: c["tokenizer"].update(max_length=80), "max_length"),  # typo of max_len
        (lambda c: c["sources"]["bbc_news"].update(path="x"), "path"),  # key of another kind
        (lambda c: c.update(seeds=[-1]), "-1"),
        (lambda c: c.update(datasets=["BBC News"]), "BBC News"),
        (lambda c: c.update(device="gpu"), "gpu"),
        (lambda c: c["noise"].update(eps=[0, 1.5]), "1.5"),
        (lambda c: c["ptq"].update(bits=[8, 1]), "1"),
    ],
)
def test_schema_refuses_bad_values(config, edit, message):
    edit(config)
    with pytest.raises(Exception, match=message):
        validate(config, SCHEMA)


def test_dataset_without_source_is_named(config):
    config["datasets"] = ["imdb"]
    with pytest.raises(ConfigError, match=r"`datasets` lists 'imdb'.*sources"):
        checked(config)


def test_missing_local_file_is_named(config, tmp_path):
    config["datasets"] = ["mine"]
    config["sources"]["mine"] = {
        "kind": "files",
        "train": str(tmp_path / "train.csv"),
        "test": "t.csv",
        "text_columns": ["text"],
        "label_column": "y",
    }
    with pytest.raises(ConfigError, match=r"sources\.mine\.train: file .*train\.csv' not found"):
        checked(config)


def _files_source(config, tmp_path, **spec):
    (tmp_path / "train.csv").write_text("text,y\na,1\n")
    (tmp_path / "test.csv").write_text("text,y\nb,1\n")
    config["datasets"] = ["mine"]
    config["sources"]["mine"] = {
        "kind": "files",
        "train": str(tmp_path / "train.csv"),
        "test": str(tmp_path / "test.csv"),
        "text_columns": ["text"],
        "label_column": "y",
        **spec,
    }


def test_a_label_column_among_the_text_columns_is_refused_before_the_dag(config):
    config["datasets"] = ["ag_news"]
    config["sources"]["ag_news"]["text_columns"] = ["text", "label"]
    with pytest.raises(ConfigError) as err:
        checked(config)
    assert str(err.value) == (
        "config keys `sources.ag_news.text_columns` and `sources.ag_news.label_column`: the label column 'label' "
        "is also a text column, so every document would carry its own answer; remove 'label' from "
        "`sources.ag_news.text_columns`"
    )


@pytest.mark.parametrize(
    "split, same_as, why",
    [
        ("valid", "train", "early stopping would pick the epoch that memorises train best"),
        ("test", "train", "test accuracy would measure memory"),
    ],
)
def test_two_splits_in_one_file_are_refused_before_the_dag(config, tmp_path, split, same_as, why):
    _files_source(config, tmp_path)
    config["sources"]["mine"][split] = str(tmp_path / "." / f"{same_as}.csv")  # another spelling of the same file
    with pytest.raises(ConfigError) as err:
        checked(config)
    assert f"config keys `sources.mine.{same_as}` and `sources.mine.{split}` name the same file" in str(err.value)
    assert why in str(err.value)


def test_check_thresholds_are_no_data_settings(config):
    spec = checked(config)["sources"]["bbc_news"]
    assert "max_duplicate_share" in spec and "max_duplicate_share" not in data_settings(spec)
    assert data_settings({**spec, "reference": "fancyzhx/ag_news"}) == data_settings(spec)
    assert data_settings({**spec, "drop_duplicates": True}) != data_settings(spec)  # it changes the data


def test_a_fingerprint_follows_the_content_not_the_times(tmp_path):
    cache = tmp_path / ".snakemake" / "fingerprints.json"
    data = tmp_path / "train.csv"
    data.write_text("text,y\nfirst,1\n")
    os.utime(data, (1_600_000_000, 1_600_000_000))
    first = fingerprint.fingerprint(data, cache)
    time.sleep(0.05)  # the kernel's ctime ticks in milliseconds: a later rewrite gets a later one
    data.write_text("text,y\nother,1\n")  # the same size ...
    os.utime(data, (1_600_000_000, 1_600_000_000))  # ... and time: ctime and the content still differ
    second = fingerprint.fingerprint(data, cache)
    assert second["size"] == first["size"] and second["sha256"] != first["sha256"]
    os.utime(data)  # a new time alone
    assert fingerprint.fingerprint(data, cache) == second


def test_a_cached_fingerprint_reads_no_byte_and_a_damaged_cache_is_ignored(tmp_path, monkeypatch):
    cache = tmp_path / ".snakemake" / "fingerprints.json"
    data = tmp_path / "train.csv"
    data.write_text("text,y\na,1\n")
    hashed = []
    real_sha256 = fingerprint.file_sha256
    monkeypatch.setattr(fingerprint, "file_sha256", lambda path: hashed.append(path) or real_sha256(path))
    found = fingerprint.fingerprint(data, cache)
    assert fingerprint.fingerprint(data, cache) == found and len(hashed) == 1  # the second call: a cache hit
    assert json.loads(cache.read_text())["files"][str(data.resolve())]["sha256"] == found["sha256"]
    assert [p.name for p in cache.parent.iterdir()] == ["fingerprints.json"]  # no temporary file left
    cache.write_text('{"format": 1, "files": {"')  # cut short
    assert fingerprint.fingerprint(data, cache) == found and len(hashed) == 2  # hashed again, cache rewritten
    assert str(data.resolve()) in json.loads(cache.read_text())["files"]
    assert fingerprint.fingerprint(data, None) == found and len(hashed) == 3  # no cache: always hashed


def test_source_fingerprints_name_each_split(config, tmp_path):
    _files_source(config, tmp_path)
    spec = checked(config)["sources"]["mine"]
    assert set(source_fingerprints(spec, cache_file=None)) == {"train", "test"}
    assert source_fingerprints({"kind": "embedded"}) == {}


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["noise"].update(eps=[0, 0.0123456789]),
            r"`noise.eps`: 0.0123456789 has more than 6 significant digits",
        ),
        (
            lambda c: c["noise"]["definitions"]["char_substitution"].update(alphabet="ab cd"),
            r"`noise.definitions.char_substitution`: noise alphabet 'ab cd'",
        ),
        (
            lambda c: c["noise"]["definitions"]["char_substitution"].update(alphabt="xyz"),
            r"`noise.definitions.char_substitution`: unknown setting\(s\) \['alphabt'\]",
        ),
        (
            lambda c: c["noise"].update(models=["char_substitution", "typos"]),
            r"`noise.models` lists 'typos', which is not a key of `noise.definitions`",
        ),
        (
            lambda c: c["noise"]["definitions"].update(typos={"kind": "keyboard"}),
            r"`noise.definitions.typos.kind`: unknown noise model 'keyboard'",
        ),
        (
            lambda c: c["ptq"].update(methods=["gpfq", "adaround"]),
            r"`ptq.methods`: unknown ptq method 'adaround'; known: \['gpfq', 'gpfq_all', 'gpfq_lstm', 'plain'\]",
        ),
        (
            lambda c: c["calibration"]["definitions"].update(odd={"kind": "clustered"}),
            r"`calibration.definitions.odd.kind`: unknown calibration kind 'clustered'",
        ),
        (
            lambda c: c["model"]["dropout"].update(discrimnative=0.3),
            r"`model.dropout.discrimnative`: unknown classifier 'discrimnative'",
        ),
        (
            lambda c: c["calibration"]["strategies"].append("nine"),
            r"`calibration.strategies` lists 'nine', which is not a key of `calibration.definitions`",
        ),
        # `fp32` names the FP32 models' cells: a strategy may not be called so (a definition
        # that no strategy lists names no files, and is no longer refused)
        (
            lambda c: (
                c["calibration"]["definitions"].update(fp32={"kind": "random"}),
                c["calibration"]["strategies"].append("fp32"),
            ),
            r"`fp32` names the unquantized models' cells",
        ),
        (lambda c: c.update(deterministic=True, device="cuda"), r"`deterministic: true` and `device: cuda`"),
        (
            lambda c: c.setdefault("design_space", {}).update(methods=["gpfq"], schemes=["w4c8h8"]),
            r"`design_space.schemes`: .*'w4c8h8': write it as 'w4h8c8'",
        ),
        (
            lambda c: c.setdefault("design_space", {}).update(methods=["gpfq"], schemes=["w4c16r"]),
            r"`design_space.schemes`: .*per-row scales \(r\) are for weights",
        ),
        (
            lambda c: c.setdefault("design_space", {}).update(methods=["gpfq_lsmt"], schemes=["w4c8"]),
            r"`design_space.methods`: unknown ptq method 'gpfq_lsmt'",
        ),
        (
            lambda c: c.setdefault("design_space", {}).update(methods=["gpfq"], schemes=["w4c8"], strategy="balancd"),
            r"`design_space.strategy` lists 'balancd'",
        ),
    ],
)
def test_config_checks_name_the_key(config, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message):
        checked(config)


def test_an_extension_that_cannot_be_imported_or_lacks_a_function_is_named(config, tmp_path):
    config["classifiers"] = ["bow"]
    config["extensions"] = {"classifiers": {"bow": str(tmp_path / "bow.py")}}
    with pytest.raises(ConfigError, match=r"config key `extensions.classifiers.bow`: file '.*bow.py' not found"):
        checked(config)
    (tmp_path / "bow.py").write_text("SETTINGS = ()\n")
    with pytest.raises(
        ConfigError,
        match=r"config key `classifiers`: classifier 'bow' \(config key `extensions.classifiers.bow`\): "
        r".*bow.py' lacks \['GPU_STAGES'.*'weights'\]",
    ):
        checked(config)


@pytest.mark.parametrize(
    ("registry", "ref", "message"),
    [  # each unused by the grid, so only the check of every entry can catch it before a job does
        (
            "ptq_methods",
            "my_code.kinds:halve",
            r"`extensions.ptq_methods.mine`: no module 'my_code.kinds' on the import",
        ),
        ("calibration_kinds", "lstmptq.data.calibrations:first", r"no module 'lstmptq.data.calibrations'"),
        (
            "calibration_kinds",
            "{tmp}/kinds.py:first",
            r"`extensions.calibration_kinds.mine`: file '.*kinds.py' not found",
        ),
        ("ptq_methods", "{tmp}/broken.py:halve", r"broken.py' does not compile: SyntaxError: .*broken.py, line 2\)"),
    ],
)
def test_every_extension_entry_is_found_and_compiles_before_any_job(config, tmp_path, registry, ref, message):
    (tmp_path / "broken.py").write_text("import torch\ndef halve(qmodel, family, batches)\n    pass\n")
    config["extensions"] = {registry: {"mine": ref.format(tmp=tmp_path)}}
    with pytest.raises(ConfigError, match=message):
        checked(config)


def test_a_family_that_raises_at_import_is_named_with_the_error_not_a_traceback(config, tmp_path):
    (tmp_path / "bow.py").write_text("import os\nraise RuntimeError('bow needs a GPU')\n")
    config["classifiers"] = ["bow"]
    config["extensions"] = {"classifiers": {"bow": str(tmp_path / "bow.py")}}
    with pytest.raises(
        ConfigError,
        match=r"classifier 'bow' \(config key `extensions.classifiers.bow`\): cannot import '.*bow.py': "
        r"RuntimeError: bow needs a GPU \(.*bow.py, line 2\)$",
    ):
        checked(config)


def test_a_moved_key_says_where_it_went():
    from lstmptq.config import check_moved_keys

    with pytest.raises(
        ConfigError, match=r"`noise.alphabet` has moved to `noise.definitions.char_substitution.alphabet"
    ):
        check_moved_keys({"noise": {"alphabet": "abc"}})
    check_moved_keys({"noise": {"eps": [0]}})


def test_unknown_classifier_is_refused_naming_the_key(config):
    # the schema no longer lists the classifiers (extensions add their own): the config check does
    config["classifiers"] = ["discriminative", "rnn"]
    validate(config, SCHEMA)
    with pytest.raises(
        ConfigError,
        match=r"config key `classifiers`: unknown classifier 'rnn'; known: \['discriminative', 'generative', 'transf",
    ):
        check_config(config, SCHEMA)


def test_model_settings_hold_only_what_each_classifier_uses(config):
    checked(config)
    assert model_settings(config, "discriminative") == {"embedding_dim": 100, "hidden_dim": 100, "dropout": 0.5}
    assert set(model_settings(config, "generative")) == {
        "embedding_dim",
        "hidden_dim",
        "label_embedding_dim",
        "prior",
        "dropout",
    }


@pytest.mark.parametrize(
    "edit, message",
    [
        # YAML reads `4.0` as a float: `w4.0` names files no rule makes, and a finished run would
        # then say "Nothing to be done" while its tables describe the old grid
        (lambda c: c["ptq"].update(bits=[4.0, 3]), r"`ptq.bits\[0\]`: 4.0 is not a whole number; write 4"),
        (lambda c: c.update(seeds=[0, 1.0]), r"`seeds\[1\]`: 1.0 is not a whole number"),
        (lambda c: c["ptq"].update(batch_size=32.0), r"`ptq.batch_size`: 32.0 is not a whole number"),
        (lambda c: c["noise"].update(batch_size=64.0), r"`noise.batch_size`: 64.0 is not a whole number"),
        (lambda c: c["checks"].update(min_train_per_class=2.0), r"`checks.min_train_per_class`"),
    ],
)
def test_grid_values_must_be_whole_numbers_where_they_name_files(config, edit, message):
    edit(config)
    validate(config, SCHEMA)  # JSON Schema's `integer` admits 4.0: this check is the one that refuses it
    with pytest.raises(ConfigError, match=message):
        check_config(config, SCHEMA)


def test_every_axis_value_is_spelt_as_its_wildcard_matches(config):
    checked(config)
    assert axis_problems(config) == []
    config["ptq"]["bits"] = [4.0]  # what the whole-number check stops first
    config["calibration"]["strategies"] = ["balanced", "balanced"]
    problems = "\n".join(axis_problems(config))
    assert "`ptq.bits`: 'w4.0' cannot name a file" in problems
    assert "`calibration.strategies`: ['balanced'] appear more than once" in problems


def test_schema_repeats_the_grid_patterns(config):
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    assert schema["definitions"]["name"]["pattern"] == f"^{NAME}$"


def test_schema_bit_widths_are_the_grids(config):
    items = yaml.safe_load(Path(SCHEMA).read_text())["properties"]["ptq"]["properties"]["bits"]["items"]
    assert (items["minimum"], items["maximum"]) == (BITS.start, BITS.stop - 1)


def typo_paths(config, path=()):
    """Every object of the config whose keys are settings (not names of sources or strategies)."""
    if not isinstance(config, dict):
        return
    if path not in {("sources",), ("calibration", "definitions")}:
        yield path
    for key, value in config.items():
        yield from typo_paths(value, (*path, key))


def test_a_misspelt_key_is_refused_at_any_depth(config):
    checked(config)
    paths = list(typo_paths(config))
    assert (
        ("sources", "bbc_news") in paths
        and ("model", "dropout") in paths
        and ("calibration", "definitions", "skewed") in paths
    )
    assert ("noise", "definitions", "char_substitution") in paths
    for path in paths:
        broken = copy.deepcopy(config)
        node = broken
        for key in path:
            node = node[key]
        node["misspelt_key"] = 1
        with pytest.raises(Exception, match="misspelt_key"):
            if path[:2] == ("noise", "definitions") and len(path) == 3:
                checked(broken)  # a noise model's settings are its own: its `check` refuses them
            else:
                validate(broken, SCHEMA)


def test_check_config_command_names_the_file_line_and_key(tmp_path, capsys):
    bad_yaml = tmp_path / "mine.yaml"
    bad_yaml.write_text("ptq:\n  bits: [4, 3\nnoise: {eps: [0]}\n")
    assert main(["--workflow", str(REPO), str(bad_yaml)]) == 1
    assert f"{bad_yaml}: not valid YAML: line 3, column 6" in capsys.readouterr().err
    floats = tmp_path / "floats.yaml"
    floats.write_text("ptq: {bits: [4.0]}\n")
    assert main(["--workflow", str(REPO), str(floats)]) == 1
    assert "`ptq.bits[0]`: 4.0 is not a whole number" in capsys.readouterr().err
    assert main(["--workflow", str(REPO), str(REPO / "tests" / "configs" / "tiny.yaml")]) == 0
    assert "ok:" in capsys.readouterr().out
