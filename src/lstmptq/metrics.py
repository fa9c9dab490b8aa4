"""Classification metrics shared by every stage, as plain JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str]) -> dict:
    """Accuracy, per-class recall, macro-F1 and the histogram of predicted labels."""
    from sklearn.metrics import f1_score, recall_score

    labels = list(range(len(label_names)))
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    counts = np.bincount(y_pred, minlength=len(labels))
    return {
        "n_documents": int(len(y_true)),
        "accuracy": float((y_true == y_pred).mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class_recall": {name: float(r) for name, r in zip(label_names, recall)},
        "prediction_histogram": {name: int(c) for name, c in zip(label_names, counts)},
    }
