"""Model checkpoints: a fresh model of a family, and its weights saved and loaded as a verified
state dict (no pickled classes, no code from the file runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from lstmptq.io import ResultFileError, load_torch, save_torch
from lstmptq.registry import family

CHECKPOINT_FORMAT = 2  # 2: with a SHA-256 over meta and weights


def build_model(kind: str, vocab_size: int, num_classes: int, settings: dict[str, Any], train_labels=None) -> nn.Module:
    """A fresh model of family `kind` from its `model` settings (the family's `build`)."""
    return family(kind).build(vocab_size, num_classes, settings, train_labels)


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """State dict (of a CPU model) + everything needed to rebuild the model, with a checksum."""
    save_torch(path, {"format": CHECKPOINT_FORMAT, "kind": model.kind, "meta": meta, "state_dict": model.state_dict()})


def load_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model on the CPU from verified `save_checkpoint` output (no code from the file runs)."""
    payload = load_torch(path, CHECKPOINT_FORMAT, "checkpoint")
    meta = payload["meta"]
    try:
        model = build_model(payload["kind"], meta["vocab_size"], meta["num_classes"], meta["model"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as err:  # intact, but written for other model code
        raise ResultFileError(path, f"does not fit this code's {payload.get('kind')} model ({err})") from err
    return model, meta
