"""The noise stage's steps: noisy test sets, evaluation cells and their drops, the study table."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmptq.data.tokenizer import Tokenizer
from lstmptq.io import write_frame, write_json
from lstmptq.models.checkpoint import build_model, save_checkpoint
from lstmptq.report.tables import build_study_table, summarize_over_seeds, t_interval
from lstmptq.stages.noise import evaluate_curve, noisy_test_set, noisy_test_sets

TEXTS = [
    "markets rallied as shares rose",
    "the striker scored twice",
    "ministers debated the budget",
    "a new phone was launched",
] * 5
LABELS = [0, 1, 2, 3] * 5
NAMES = ["business", "sport", "politics", "tech"]
NOISE = "char_substitution"


def substitution(alphabet):
    """The config's noise definition of the character-substitution model."""
    return {"kind": "char_substitution", "alphabet": alphabet}


@pytest.fixture
def stage(tmp_path):
    write_frame(tmp_path / "test.parquet", pd.DataFrame({"text": TEXTS, "label": LABELS}))
    tokenizer = Tokenizer.build(TEXTS, min_freq=1, max_size=100, max_len=20)
    tokenizer.save(tmp_path / "vocab.json")
    torch.manual_seed(0)
    model = build_model("discriminative", len(tokenizer), 4, {"embedding_dim": 8, "hidden_dim": 8, "dropout": 0.0})
    meta = {
        "kind": "discriminative",
        "seed": 0,
        "label_names": NAMES,
        "vocab_size": len(tokenizer),
        "num_classes": 4,
        "model": {"embedding_dim": 8, "hidden_dim": 8, "dropout": 0.0},
    }
    save_checkpoint(tmp_path / "model.pt", model, meta)
    return tmp_path, tokenizer


def test_noisy_test_set_at_eps_zero_is_the_clean_encoding(stage):
    path, tokenizer = stage
    summary = noisy_test_set(
        path / "test.parquet", path / "vocab.json", path / "eps0.parquet", NOISE, substitution("abc"), 0.0, seed=0
    )
    table = pd.read_parquet(path / "eps0.parquet")
    assert [list(x) for x in table["ids"]] == tokenizer.encode_many(TEXTS)
    assert table["label"].tolist() == LABELS
    assert summary == {
        "corruption_rate": 0.0,
        "unknown_share": 0.0,
        "became_unknown_share": 0.0,
        "changed_word_share": 0.0,
    }


def test_noise_turns_words_unknown(stage):
    path, _ = stage
    summary = noisy_test_set(
        path / "test.parquet", path / "vocab.json", path / "eps.parquet", NOISE, substitution("xyz"), 0.5, seed=0
    )
    assert 0.4 < summary["corruption_rate"] < 0.6
    # every word in the vocabulary is known when clean, so every unknown word became unknown
    assert summary["became_unknown_share"] == summary["unknown_share"] > 0.5


def test_a_curve_takes_its_drops_against_its_references(stage):
    path, _ = stage
    levels = [0.0, 0.3]
    noisy_test_sets(
        path / "test.parquet",
        path / "vocab.json",
        [path / f"eps{e}.parquet" for e in levels],
        NOISE,
        substitution("xyz"),
        levels,
        seed=0,
    )
    clean, noisy = evaluate_curve(
        "discriminative",
        levels,
        [path / f"eps{e}.parquet" for e in levels],
        [path / "clean.json", path / "noisy.json"],
        NOISE,
        checkpoint=path / "model.pt",
    )
    assert clean["drop_vs_clean"] == clean["drop_vs_fp32"] == 0 and clean["bits"] == 32 and clean["strategy"] == "fp32"
    assert clean["noise"] == NOISE and clean["eps"] == 0
    assert (
        noisy["drop_vs_clean"] == pytest.approx(clean["accuracy"] - noisy["accuracy"]) and noisy["drop_vs_fp32"] == 0
    )  # FP32: its own reference
    assert noisy["corruption_rate"] > 0.2 and json.loads((path / "noisy.json").read_text())["eps"] == 0.3
    assert json.loads((path / "noisy.json").read_text()) == noisy
    # a quantized curve takes its drops against the FP32 cells at the same eps (fake ones, known numbers)
    for name, accuracy in (("fp0.json", 0.75), ("fp3.json", 0.6)):
        write_json(path / name, {"accuracy": accuracy})
    with pytest.raises(ValueError, match="needs the FP32 cell at each eps"):
        evaluate_curve(
            "discriminative",
            levels,
            [path / f"eps{e}.parquet" for e in levels],
            [path / "a.json", path / "b.json"],
            NOISE,
            checkpoint=None,
            artifact=path / "x.safetensors",
        )
    with pytest.raises(ValueError, match="needs eps 0"):
        evaluate_curve(
            "discriminative", [0.3], [path / "eps0.3.parquet"], [path / "bad.json"], NOISE, checkpoint=path / "model.pt"
        )
    assert not (path / "bad.json").exists()
    with pytest.raises(ValueError, match="generative model is expected"):
        evaluate_curve(
            "generative", [0.0], [path / "eps0.0.parquet"], [path / "bad.json"], NOISE, checkpoint=path / "model.pt"
        )


def test_t_interval():
    low, high = t_interval([1.0, 2.0, 3.0])
    assert (low, high) == pytest.approx((2 - 4.302653 / np.sqrt(3), 2 + 4.302653 / np.sqrt(3)))
    assert np.isnan(t_interval([1.0])).all()


def write_cell(path, **fields):
    write_json(path, {"macro_f1": 0.5, "clean_accuracy": 0.9, "fp32_accuracy_same_eps": 0.9,
                      "corruption_rate": 0.0, "unknown_share": 0.1, "became_unknown_share": 0.0,
                      "changed_word_share": 0.0, "drop_vs_clean": 0.0, **fields})  # fmt: skip
    return str(path)


def test_study_table_joins_sizes_and_flags_and_summarizes_seeds(tmp_path):
    cells, ptq, fp32_metrics = [], [], []
    for seed, (fp32, quantized) in enumerate([(0.9, 0.8), (0.8, 0.6)]):
        base = {"model": "generative", "seed": seed, "noise": NOISE, "eps": 0.0}
        cells.append(
            write_cell(
                tmp_path / f"f{seed}.json",
                **base,
                strategy="fp32",
                method="fp32",
                recipe="fp32",
                bits=32,
                accuracy=fp32,
                drop_vs_fp32=0.0,
            )
        )
        cells.append(
            write_cell(
                tmp_path / f"q{seed}.json",
                **base,
                strategy="balanced",
                method="gpfq",
                recipe="paper",
                bits=4,
                accuracy=quantized,
                drop_vs_fp32=fp32 - quantized,
            )
        )
        write_json(tmp_path / f"p{seed}.json", {
            "config": {"kind": "generative", "seed": seed}, "strategy": "balanced", "method": "gpfq",
            "recipe": "paper", "scheme": "w4uh8g8s8c8xh", "bits": 4, "size_bits": 100, "fp32_size_bits": 800,
            "compression_ratio": 8.0,
            "flags": ["calibration_misses_class"] if seed else [],
        })  # fmt: skip
        ptq.append(str(tmp_path / f"p{seed}.json"))
        write_json(tmp_path / f"m{seed}.json", {"config": {"kind": "generative", "seed": seed}, "flags": []})
        fp32_metrics.append(str(tmp_path / f"m{seed}.json"))
    table = build_study_table("toy", cells, ptq, fp32_metrics)
    assert len(table) == 4 and (table["dataset"] == "toy").all()
    columns = list(table.columns)
    assert (
        columns[columns.index("bits") : columns.index("bits") + 3] == ["bits", "noise", "eps"]
        and (table["noise"] == NOISE).all()
    )
    fp32_rows = table[table["strategy"] == "fp32"]
    assert (fp32_rows["size_bits"] == 800).all() and (fp32_rows["compression_ratio"] == 1).all()
    # each row carries its own cell's flags; the summary flags a grid cell if any seed is flagged
    assert table.set_index(["strategy", "seed"])["flags"].to_dict() == {
        ("fp32", 0): "",
        ("fp32", 1): "",
        ("balanced", 0): "",
        ("balanced", 1): "calibration_misses_class",
    }
    summary = summarize_over_seeds(table).set_index("strategy")
    assert summary.loc["balanced", "flags"] == "calibration_misses_class" and summary.loc["fp32", "flags"] == ""
    assert summary.loc["balanced", "n_seeds"] == 2
    assert (summary["noise"] == NOISE).all()
    assert summary.loc["balanced", "accuracy_mean"] == pytest.approx(0.7)
    assert summary.loc["balanced", "drop_vs_fp32_mean"] == pytest.approx(0.15)
    assert summary.loc["balanced", "accuracy_ci_low"] < 0.7 < summary.loc["balanced", "accuracy_ci_high"]
