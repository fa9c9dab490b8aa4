import numpy as np
import pytest
import torch

from lstmptq.models.checkpoint import build_model
from lstmptq.models.training import EarlyStopping, Encoded, bucketed_batches, padded_share, predict, train


def test_early_stopping_waits_patience_epochs_after_the_best():
    stopper = EarlyStopping(patience=2)
    seen = []
    for epoch, score in enumerate([0.5, 0.7, 0.7, 0.6, 0.9], start=1):
        seen.append(stopper.step(epoch, score))
        if stopper.should_stop:
            break
    assert seen == [True, True, False, False]  # equal is not better; stops before epoch 5
    assert (stopper.best_epoch, stopper.best_score) == (2, 0.7)


def test_bucketed_batches_cover_every_document_once_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 90, size=1000)
    batches = bucketed_batches(lengths, 32, 50, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    shuffled = np.array_split(rng.permutation(1000), 1000 // 32)
    assert padded_share(lengths, batches) < 0.1 < padded_share(lengths, shuffled)


def test_bucketed_batches_are_seeded():
    lengths = np.arange(100) % 17
    first = bucketed_batches(lengths, 8, 4, np.random.default_rng(3))
    again = bucketed_batches(lengths, 8, 4, np.random.default_rng(3))
    assert all((a == b).all() for a, b in zip(first, again))


def toy_data(n=64, seed=0):
    """Class 0 documents use tokens 4..7, class 1 documents tokens 8..11."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    ids = [np.array([2, *rng.integers(4 + 4 * y, 8 + 4 * y, size=rng.integers(2, 9)), 3]) for y in labels]
    return Encoded(ids, labels)


SETTINGS = {"lr": 0.01, "batch_size": 16, "max_epochs": 8, "patience": 3, "grad_clip": 5.0, "bucket_batches": 2}
HP = {"embedding_dim": 8, "hidden_dim": 8, "label_embedding_dim": 4, "dropout": 0.0}


@pytest.mark.parametrize("kind", ["discriminative", "generative"])
def test_training_learns_a_separable_toy_task_and_is_reproducible(kind):
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model(kind, 12, 2, HP)
        model, history = train(model, toy_data(), toy_data(32, seed=1), SETTINGS, seed=0, device="cpu")
        runs.append((model, history))
    (model, history), (again, _) = runs
    valid_predictions, _ = predict(model, toy_data(32, seed=1), 16, "cpu")
    # the returned weights are those of the best validation epoch, not the last
    assert (valid_predictions == toy_data(32, seed=1).labels).mean() == max(h["valid_accuracy"] for h in history)
    predictions, scores = predict(model, toy_data(32, seed=2), 16, "cpu")
    assert (predictions == toy_data(32, seed=2).labels).mean() >= 0.9
    assert scores.shape == (32, 2)
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)  # same seed -> bit-identical weights
