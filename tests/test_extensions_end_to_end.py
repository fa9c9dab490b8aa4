"""The extension points (lstmptq.registry): a classifier family, a calibration kind, a PTQ method and
a noise model defined only in tests/extensions/ and registered from a config run through the
tiny workflow end to end, with no edit of the package or the workflow (docs/extending.md)."""

import json

import pandas as pd
import pytest
from conftest import REPO, TINY_CONFIG, snakemake

pytestmark = pytest.mark.workflow
EXTENSIONS = REPO / "tests" / "extensions"


def overlay(tmp_path) -> str:
    config = tmp_path / "extensions.yaml"
    config.write_text(
        f"""
classifiers: [bow]
extensions:
  classifiers: {{bow: {EXTENSIONS / "bow_family.py"}}}
  calibration_kinds: {{first_documents: "{EXTENSIONS / "first_documents.py"}:first_documents"}}
  ptq_methods: {{halve: "{EXTENSIONS / "first_documents.py"}:halve_head_bias"}}
  noise_models: {{swap: {EXTENSIONS / "swap_noise.py"}}}
model:
  dropout: {{bow: 0.1}}
calibration:
  strategies: [balanced, first]
  definitions: {{first: {{kind: first_documents}}}}
ptq:
  methods: [gpfq, halve]
noise:
  models: [char_substitution, swap]
  definitions: {{swap: {{kind: swap}}}}
"""
    )
    return config


@pytest.fixture(scope="module")
def extension_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("extensions")
    result = snakemake(workdir, "--cores", "2", configfiles=(TINY_CONFIG, overlay(workdir)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir / "results" / "bbc_tiny"


def test_every_variant_reaches_the_study_table(extension_run):
    study = pd.read_csv(extension_run / "tables" / "study.csv")
    assert set(study["model"]) == {"bow"}
    assert set(study["strategy"]) == {"fp32", "balanced", "first"}
    assert set(study["method"]) == {"fp32", "gpfq", "halve"}
    assert set(study["noise"]) == {"char_substitution", "swap"}
    assert len(study) == (1 + 2 * 2) * 2 * 2  # (FP32 + strategies x methods) x noise models x eps
    assert set(study["recipe"]) == {"fp32", "uniform"}  # a family without RECIPES builds uniform only
    swapped = study[(study["noise"] == "swap") & (study["eps"] == 0.1)]
    assert (swapped["corruption_rate"] > 0).all() and (swapped["changed_word_share"] > 0).all()
    for name in ("accuracy_vs_bits", "accuracy_vs_eps", "ks_vs_bits"):
        assert (extension_run / "plots" / f"{name}.png").stat().st_size > 0


def test_the_extensions_did_what_they_say(extension_run):
    subset = json.loads((extension_run / "calibration" / "seed0" / "first.json").read_text())
    assert subset["indices"] == list(range(subset["size"]))
    cell = extension_run / "bow" / "seed0" / "balanced"
    gpfq, halve = (json.loads((cell / m / "uniform" / "w4" / "metrics.json").read_text()) for m in ("gpfq", "halve"))
    assert halve["base_method"] == "halve" and gpfq["base_method"] == "gpfq"
    for metrics in (gpfq, halve):  # the toy engine matches Brevitas, as the LSTMs' engines do
        assert metrics["engine_check"]["within_tolerance"] and metrics["engine_check"]["prediction_agreement"] == 1.0
    ks = pd.read_csv(extension_run / "tables" / "ks.csv")
    assert {"embedding_output", "final_layer_input", "scores", "embedding", "classifier"} <= set(ks["tensor"])


def test_an_unregistered_name_is_refused_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("classifiers: [transformer]\n")
    result = snakemake(tmp_path, "-n", configfiles=(bad,))
    assert result.returncode != 0
    assert "config key `classifiers`: unknown classifier 'transformer'" in result.stderr + result.stdout
    assert "extensions.classifiers" in result.stderr + result.stdout
