"""Classification metrics shared by every stage, as plain JSON-ready dicts.

Plain numpy (no scikit-learn): importing sklearn.metrics costs about 2 s, paid by every noise
cell; tests/test_evaluation_metrics.py checks these against scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence[str]) -> dict:
    """Accuracy, per-class recall, macro-F1 and the histogram of predicted labels.

    A class with no true (or no predicted) documents gets recall (precision) 0, as scikit-learn's
    `zero_division=0`; macro-F1 averages over all `label_names`.
    """
    k = len(label_names)
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    hits = np.diag(confusion).astype(float)
    true_counts, predicted_counts = confusion.sum(1), confusion.sum(0)
    recall = np.divide(hits, true_counts, out=np.zeros(k), where=true_counts > 0)
    precision = np.divide(hits, predicted_counts, out=np.zeros(k), where=predicted_counts > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    return {
        "n_documents": int(len(y_true)),
        "accuracy": float((y_true == y_pred).mean()),
        "macro_f1": float(f1.mean()),
        "per_class_recall": {name: float(r) for name, r in zip(label_names, recall)},
        "prediction_histogram": {name: int(c) for name, c in zip(label_names, predicted_counts)},
    }
