"""Train stage: one classifier (dataset x family x seed) in FP32, early-stopped on valid accuracy."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from lstmptq.data.tokenizer import Tokenizer
from lstmptq.evaluation.metrics import classification_metrics
from lstmptq.io import provenance, read_frame, read_json, write_frame, write_json
from lstmptq.models.checkpoint import build_model, save_checkpoint
from lstmptq.models.training import Encoded, predict, train
from lstmptq.runtime import resolve_device, seed_everything, set_threads

log = logging.getLogger(__name__)


def train_classifier(
    token_files: dict[str, str | Path],
    vocab_file: str | Path,
    labels_file: str | Path,
    model_file: str | Path,
    train_log_file: str | Path,
    metrics_file: str | Path,
    kind: str,
    model_settings: dict[str, Any],
    training_settings: dict[str, Any],
    seed: int,
    device: str = "auto",
    threads: int = 1,
) -> dict[str, Any]:
    """Train one classifier of family `kind` -> model.pt, train_log.csv, metrics.json."""
    set_threads(threads)
    seed_everything(seed)
    torch_device = resolve_device(device)
    labels = read_json(labels_file)
    label_names = labels["label_names"]
    vocab_size = len(Tokenizer.load(vocab_file))
    data = {s: Encoded.from_frame(read_frame(f)) for s, f in token_files.items()}

    model = build_model(kind, vocab_size, len(label_names), model_settings, data["train"].labels).to(torch_device)
    n_params = sum(p.numel() for p in model.parameters())
    log.info(
        "%s: %d parameters, vocabulary %d, %d classes, device %s, %d thread(s)",
        kind,
        n_params,
        vocab_size,
        len(label_names),
        torch_device,
        threads,
    )

    start = time.perf_counter()
    model, history = train(model, data["train"], data["valid"], training_settings, seed, torch_device)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions, _ = predict(model, data["test"], training_settings["batch_size"], torch_device)
    test_seconds = time.perf_counter() - start

    history_frame = pd.DataFrame(history)
    best = history_frame.loc[history_frame["valid_accuracy"].idxmax()]
    meta = {
        "kind": kind,
        "vocab_size": vocab_size,
        "num_classes": len(label_names),
        "label_names": label_names,
        "model": model_settings,
        "training": training_settings,
        "seed": seed,
    }
    metrics = {
        "dataset_split": "test",
        **classification_metrics(data["test"].labels, predictions, label_names),
        "valid_accuracy": float(best["valid_accuracy"]),
        "best_epoch": int(best["epoch"]),
        "epochs_run": len(history),
        "n_parameters": n_params,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(history_frame["epoch_seconds"].mean()),
        "test_seconds": test_seconds,
        "padded_share": float(history_frame["padded_share"].mean()),
        "flags": [],  # the model's own; the dataset's are the tables' (a new `checks:` must not retrain)
        "config": meta,
        "provenance": provenance(device=str(torch_device), threads=threads, seed=seed),
    }
    model.cpu()
    save_checkpoint(model_file, model, meta)
    write_frame(train_log_file, history_frame)
    write_json(metrics_file, metrics)
    log.info("test accuracy %.4f, macro-F1 %.4f", metrics["accuracy"], metrics["macro_f1"])
    return metrics
