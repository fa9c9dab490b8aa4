"""TF-IDF + logistic regression on the same truncated word tokens the LSTMs see.

It tells a reader whether the LSTMs are trained well. The regularisation strength C is chosen
on the validation split; the test split is used once.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

log = logging.getLogger(__name__)

C_GRID = (0.1, 1.0, 10.0, 100.0)


def fit_tfidf_logreg(train_words, train_labels, valid_words, valid_labels, seed: int):
    """Fit on train for every C in C_GRID, keep the best on valid. Returns (model, C, valid accuracies)."""
    scores, best = {}, None
    for c in C_GRID:
        # the documents arrive tokenized: identity analyzer keeps the LSTMs' tokenization
        model = make_pipeline(
            TfidfVectorizer(analyzer=lambda words: words, sublinear_tf=True, min_df=1),
            LogisticRegression(C=c, max_iter=2000, random_state=seed),
        )
        model.fit(train_words, train_labels)
        scores[c] = float((model.predict(valid_words) == np.asarray(valid_labels)).mean())
        log.info("C=%g: valid accuracy %.4f", c, scores[c])
        if best is None or scores[c] > scores[best[1]]:
            best = (model, c)
    return best[0], best[1], scores


def run_baseline(frames, tokenizer, seed: int) -> tuple[np.ndarray, dict]:
    """Predictions on the test split and a summary of the fit."""
    start = time.perf_counter()
    words = {split: [tokenizer.words(t) for t in frame["text"]] for split, frame in frames.items()}
    labels = {split: frame["label"].to_numpy() for split, frame in frames.items()}
    model, c, valid_scores = fit_tfidf_logreg(words["train"], labels["train"], words["valid"], labels["valid"], seed)
    predictions = model.predict(words["test"])
    return predictions, {
        "C": c,
        "valid_accuracy_by_C": {str(k): v for k, v in valid_scores.items()},
        "seconds": time.perf_counter() - start,
    }
