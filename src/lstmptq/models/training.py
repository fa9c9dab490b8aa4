"""Padding-aware batching, early stopping, the training loop and batched evaluation."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmptq.data.tokenizer import PAD_ID

log = logging.getLogger(__name__)


@dataclass
class Encoded:
    """Token-id sequences (each <bos> ... <eos>) and integer labels of one split."""

    ids: list[np.ndarray]
    labels: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Encoded:
        return cls([np.asarray(x, dtype=np.int64) for x in frame["ids"]], frame["label"].to_numpy(dtype=np.int64))

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64, count=len(self.ids))

    def __len__(self) -> int:
        return len(self.ids)


# ---------------------------------------------------------------------------------------
# batching


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, pool_batches: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffled batches of similar-length documents.

    Shuffle, cut into pools of `pool_batches` batches, sort each pool by length, split it into
    batches, then shuffle the batch order: little padding, yet a different mix every epoch.
    """
    order = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Deterministic evaluation batches, sorted by length."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padded_share(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    """Share of the positions in the padded batches that are padding."""
    real = sum(int(lengths[b].sum()) for b in batches)
    total = sum(int(lengths[b].max()) * len(b) for b in batches)
    return 1.0 - real / total if total else 0.0


def collate(data: Encoded, index: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids (B, T) right-padded with <pad>, lengths (B,), labels (B,)) for documents `index`."""
    seqs = [data.ids[i] for i in index]
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    ids = np.full((len(seqs), int(lengths.max())), PAD_ID, dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
    to = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    return to(ids), to(lengths), to(data.labels[index])


# ---------------------------------------------------------------------------------------
# early stopping


class EarlyStopping:
    """Stop after `patience` epochs without a strictly better validation score."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best_score = -float("inf")
        self.best_epoch = 0
        self.bad_epochs = 0

    def step(self, epoch: int, score: float) -> bool:
        """Record one epoch's score; True if it is the best so far."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience


# ---------------------------------------------------------------------------------------
# train / evaluate


@torch.no_grad()
def predict(model: nn.Module, data: Encoded, batch_size: int, device) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels (N,), class scores (N, K)) in the original document order."""
    model.eval()
    scores = [None] * len(data)
    for index in sorted_batches(data.lengths, batch_size):
        ids, lengths, _ = collate(data, index, device)
        for i, row in zip(index, model.class_scores(ids, lengths).cpu().numpy()):
            scores[i] = row
    stacked = np.stack(scores)
    return stacked.argmax(1), stacked


def train(
    model: nn.Module, train_data: Encoded, valid_data: Encoded, settings: dict[str, Any], seed: int, device
) -> tuple[nn.Module, list[dict]]:
    """Adam + gradient clipping + early stopping on validation accuracy.

    Returns the model with the weights of its best validation epoch, and one row per epoch.
    """
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    stopper = EarlyStopping(settings["patience"])
    best_state = copy.deepcopy(model.state_dict())
    history = []
    lengths = train_data.lengths
    for epoch in range(1, settings["max_epochs"] + 1):
        start = time.perf_counter()
        model.train()
        batches = bucketed_batches(lengths, settings["batch_size"], settings["bucket_batches"], rng)
        total_loss, total_docs = 0.0, 0
        for index in batches:
            ids, lens, labels = collate(train_data, index, device)
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(ids, lens, labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), settings["grad_clip"])
            optimizer.step()
            total_loss += loss.item() * len(index)
            total_docs += len(index)
        train_seconds = time.perf_counter() - start
        predictions, _ = predict(model, valid_data, settings["batch_size"], device)
        valid_accuracy = float((predictions == valid_data.labels).mean())
        improved = stopper.step(epoch, valid_accuracy)
        if improved:
            best_state = copy.deepcopy(model.state_dict())
        row = {
            "epoch": epoch,
            "train_loss": total_loss / total_docs,
            "valid_accuracy": valid_accuracy,
            "best": improved,
            "train_seconds": train_seconds,
            "epoch_seconds": time.perf_counter() - start,
            "padded_share": padded_share(lengths, batches),
        }
        history.append(row)
        log.info(
            "epoch %3d  loss %.4f  valid acc %.4f%s  (%.1fs, %.1f%% padding)",
            epoch, row["train_loss"], valid_accuracy, " *" if improved else "",
            row["epoch_seconds"], 100 * row["padded_share"],
        )  # fmt: skip
        if stopper.should_stop:
            log.info(
                "early stop: no better validation accuracy for %d epochs (best %.4f at epoch %d)",
                stopper.patience,
                stopper.best_score,
                stopper.best_epoch,
            )
            break
    model.load_state_dict(best_state)
    return model, history
