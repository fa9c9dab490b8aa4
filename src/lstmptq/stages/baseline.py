"""Baseline stage: TF-IDF + logistic regression on the same tokens (is the LSTM training any good?)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lstmptq.data.tokenizer import Tokenizer
from lstmptq.evaluation.metrics import classification_metrics
from lstmptq.io import provenance, read_frame, read_json, write_json
from lstmptq.models.baseline import run_baseline

log = logging.getLogger(__name__)


def tfidf_baseline(
    split_files: dict[str, str | Path], labels_file: str | Path, vocab_file: str | Path, out_file: str | Path, seed: int
) -> dict[str, Any]:
    """Split tables -> baseline metrics.json (the same metrics as the LSTMs')."""
    frames = {s: read_frame(f) for s, f in split_files.items()}
    label_names = read_json(labels_file)["label_names"]
    predictions, fit = run_baseline(frames, Tokenizer.load(vocab_file), seed)
    metrics = {
        "dataset_split": "test",
        **classification_metrics(frames["test"]["label"].to_numpy(), predictions, label_names),
        "model": "tfidf_logreg",
        **fit,
        "provenance": provenance(seed=seed),
    }
    write_json(out_file, metrics)
    log.info("TF-IDF + logistic regression: test accuracy %.4f (C=%g)", metrics["accuracy"], fit["C"])
    return metrics
