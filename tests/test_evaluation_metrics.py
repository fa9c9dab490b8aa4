import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from lstmptq.evaluation.metrics import classification_metrics


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    k = 4
    y_true = rng.integers(0, k - 1, 60)  # class 3 never true: zero-division path
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, k, 60))
    if seed == 0:
        y_pred[y_pred == 2] = 1  # class 2 never predicted
    labels = list(range(k))
    got = classification_metrics(y_true, y_pred, ["a", "b", "c", "d"])
    assert got["accuracy"] == pytest.approx((y_true == y_pred).mean())
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    expected_recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    assert list(got["per_class_recall"].values()) == pytest.approx(list(expected_recall))
    assert list(got["prediction_histogram"].values()) == list(np.bincount(y_pred, minlength=k))
