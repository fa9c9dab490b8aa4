import copy

import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO
from lstmptq.config import ConfigError, check_config, model_settings

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def checked(config):
    validate(config, SCHEMA)
    check_config(config)
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
        (lambda c: c.update(classifiers=["transformer"]), "transformer"),
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
    config["sources"]["mine"] = {"kind": "files", "train": str(tmp_path / "train.csv"), "test": "t.csv", "text_columns": ["text"], "label_column": "y"}
    with pytest.raises(ConfigError, match=r"sources\.mine\.train: file .*train\.csv' not found"):
        checked(config)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["noise"].update(eps=[0, 0.0123456789]), r"`noise.eps`: 0.0123456789 has more than 6 significant digits"),
        (lambda c: c["noise"].update(alphabet="ab cd"), r"`noise.alphabet`"),
        (lambda c: c["calibration"]["definitions"].update(fp32={"kind": "random"}), r"calibration.definitions: `fp32`"),
    ],
)
def test_config_checks_name_the_key(config, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message):
        checked(config)


def test_model_settings_hold_only_what_each_classifier_uses(config):
    checked(config)
    assert model_settings(config, "discriminative") == {"embedding_dim": 100, "hidden_dim": 100, "dropout": 0.5}
    assert set(model_settings(config, "generative")) == {"embedding_dim", "hidden_dim", "label_embedding_dim", "prior", "dropout"}
