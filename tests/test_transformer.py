"""The transformer families (issue 27): FP32 models learn, the generative head's shared path
equals its per-label path, and the engine reproduces Brevitas' quantized model on every class."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import REPO, TINY_CONFIG, job_counts, snakemake
from test_quant_engine import K, V, batches, documents, fitted, vocab  # noqa: F401 (vocab: a fixture)

import lstmptq.grid as grid
import lstmptq.quant.build as build
import lstmptq.quant.engine as engine
import lstmptq.quant.methods as methods
import lstmptq.scheme as schemes
from lstmptq.data.tokenizer import Tokenizer
from lstmptq.models.training import collate, predict
from lstmptq.registry import family, lookup

SETTINGS = {
    "transformer": {"dim": 16, "layers": 2, "heads": 2, "mlp_dim": 32, "label_embedding_dim": 8, "max_positions": 32},
    "prior": "uniform",
    "dropout": 0.0,
}
KINDS = ["transformer_discriminative", "transformer_generative"]


@pytest.fixture(scope="module", params=KINDS)
def trained(request):
    return fitted(request.param, SETTINGS, epochs=8, lr=0.01)


def test_padding_changes_no_score_and_the_generative_paths_agree(trained):
    data = documents(16, seed=3)
    ids, lengths, _ = collate(data, np.arange(16), "cpu")
    with torch.no_grad():
        padded = torch.nn.functional.pad(ids, (0, 5))
        assert torch.allclose(trained.class_scores(ids, lengths), trained.class_scores(padded, lengths), atol=1e-5)
        if trained.kind == "transformer_generative":
            shared = trained.shared_decoder_log_likelihood(ids, lengths)
            assert torch.allclose(shared, trained.log_likelihood(ids, lengths), rtol=1e-5, atol=1e-4)


def test_a_document_longer_than_the_positions_is_refused(trained):
    ids = torch.full((1, 40), 5)
    with pytest.raises(ValueError, match="max_positions"):
        trained.class_scores(ids, torch.tensor([40]))


@pytest.mark.parametrize(
    "scheme, method", [("w8", "plain"), ("w3", "gpfq"), ("w4rz8y8n8", "plain"), ("wfy3n3", "gpfq"), ("w4", "gpfq_all")]
)
def test_engine_reproduces_brevitas(trained, scheme, method, tmp_path, vocab):  # noqa: F811 (the fixture)
    plan = build.Plan(schemes.parse(scheme), 99.99)
    q = build.quantize_model(trained, plan)
    methods.calibrate(q, batches(documents(128, seed=1)), plan)
    lookup("ptq_methods", method)(q, family(trained.kind), batches(documents(128, seed=1)))
    meta = {"kind": trained.kind, "seed": 0, "label_names": ["a", "b", "c"], "vocab_size": V, "num_classes": K}
    header = {
        "vocab": {"size": V, "sha256": Tokenizer.load(vocab).sha256()},
        "label_names": meta["label_names"],
        "fp32_meta": {**meta, "model": SETTINGS},
    }
    family(trained.kind).export(q, tmp_path / "m.safetensors", header)
    test = documents(400, seed=2)
    _, reference = predict(q, test, 64, "cpu")
    _, scores = predict(engine.load(tmp_path / "m.safetensors", kind=trained.kind, vocab_file=vocab), test, 64, "cpu")
    check = engine.agreement(reference, scores)
    assert check["within_tolerance"] and check["unexplained_disagreements"] == 0, check["max_abs_score_difference"]
    _, fp32 = predict(trained, test, 64, "cpu")
    assert np.abs(fp32 - scores).max() > 1e-4  # quantization is really on


def test_the_families_declare_their_classes_and_schemes_describe_only_those():
    assert schemes.class_of("body.blocks.0.scores") == "z" and schemes.class_of("body.blocks.1.probabilities") == "y"
    assert schemes.class_of("body.blocks.0.mlp_residual") == "n" and schemes.class_of("body.blocks.0.query") == "a"
    assert schemes.class_of("body.blocks.0.query_proj.weight") == "w"
    classes = family("transformer_discriminative").SCHEME_CLASSES
    assert set(schemes.parse("w4z8").describe(classes)) == {schemes.CLASSES[c] for c in classes}
    assert "attention scores" not in schemes.parse("w4c8").describe()  # an LSTM's table keeps its columns


def grid_config(classifiers, **ptq):
    sweep = {"bits": [3], "rest": [8, "float"]}
    return {
        "classifiers": classifiers,
        "seeds": [0],
        "datasets": ["d"],
        "calibration": {"strategies": ["balanced"]},
        "noise": {"models": ["swap"], "eps": [0.0]},
        "ptq": {"bits": [4, 3], "methods": ["gpfq"], "recipes": ["uniform"], "keep_8bit_stages": ["lstm"], **ptq},
        "design_space": {"methods": ["gpfq", "gpfq_lstm"], "strategy": "balanced", "sensitivity": sweep},
    }


def test_the_grid_crosses_each_family_with_its_own_methods_stages_and_classes():
    lstm = ["discriminative", "generative"]
    both = grid_config([*lstm, *KINDS])
    study = grid.quantized_cells(both)
    assert {c["method"] for c in study if c["model"] in KINDS} == {"gpfq"}  # no `-lstm8`: no LSTM stage
    assert {c["method"] for c in study if c["model"] in lstm} == {"gpfq", "gpfq-lstm8"}
    paths = grid.design_space_cells(both, "ptq_metrics", dataset="d")
    parts = [p.split("/") for p in paths]  # results/d/<model>/seed0/balanced/<method>/uniform/<scheme>/...
    cells = [{"model": part[2], "method": part[5], "scheme": part[7]} for part in parts]
    for cell in cells:
        assert grid.inapplicable(**cell) is None
    transformer_schemes = {c["scheme"] for c in cells if c["model"] in KINDS}
    assert {"w8z3", "w8y3", "w8n3", "wfz3", "w8a3z8y8n8", "w3a8"} <= transformer_schemes
    assert not any(set(scheme) & set("hgscx") for scheme in transformer_schemes)
    assert {c["method"] for c in cells if c["model"] in KINDS} == {"gpfq"}  # gpfq_lstm needs an LSTM
    # the LSTMs' sweep is the one an LSTM-only config makes: the transformers add no path to it
    alone = grid.design_space_cells(grid_config(lstm), "ptq_metrics", dataset="d")
    assert sorted(alone) == sorted(p for p in paths if p.split("/")[2] in lstm)
    assert "gpfq_lstm" in grid.inapplicable("transformer_generative", "gpfq_lstm", "w4")
    assert "'c'" in grid.inapplicable("transformer_discriminative", "gpfq", "w3c8")
    assert "'m'" in grid.inapplicable("transformer_generative", "gpfq", "w3a3m")  # Brevitas: percentile only
    assert not {"w3a3m", "w3a3e", "w4a4e"} & transformer_schemes


@pytest.mark.workflow
def test_both_transformer_families_run_end_to_end_beside_the_lstm_overlay(tmp_path):
    """The tiny grid with the transformer families: training, Brevitas PTQ checked against the
    engine, noise curves and KS by the engine, the tables with the architecture column, and the
    verdict grid with the transformers' columns. The overlay config/transformers.yaml adds them
    beside the LSTMs (dry run)."""
    overlay = snakemake(
        tmp_path / "dry", "-n", "--quiet", "rules", configfiles=(REPO / "config" / "transformers.yaml",)
    )
    assert overlay.returncode == 0, overlay.stderr[-3000:]
    assert job_counts(overlay.stdout)["train"] == 4 * 3  # four families x three seeds
    run = snakemake(
        tmp_path, "--cores", "2", configfiles=(TINY_CONFIG, REPO / "tests" / "configs" / "tiny_transformers.yaml")
    )
    assert run.returncode == 0, run.stderr[-3000:]
    tables = tmp_path / "results" / "bbc_tiny" / "tables"
    study = pd.read_csv(tables / "study.csv")
    assert set(study["architecture"]) == {"transformer"} and set(study["kind"]) == {"generative", "discriminative"}
    assert set(study["recipe"]) == {"fp32", "uniform"}  # the LSTMs' paper recipe is not crossed with them
    for metrics in (tmp_path / "results").glob("bbc_tiny/transformer_*/seed0/*/gpfq/uniform/w4/metrics.json"):
        check = json.loads(metrics.read_text())["engine_check"]
        assert check["within_tolerance"] and check["unexplained_disagreements"] == 0
    findings = pd.read_csv(tables / "findings.csv")
    assert set(findings["architecture"]) == {"transformer"} and len(findings) == 5
    verdicts = pd.read_csv(tmp_path / "results" / "verdicts.csv")
    assert {"transformer fp32", "transformer uniform"} <= set(verdicts.columns)
