"""Calibration stage: one strategy's subset of the training split, per training seed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lstmptq.data.calibration import sample
from lstmptq.flags import calibration_flags
from lstmptq.io import read_frame, read_json, write_json

log = logging.getLogger(__name__)


def calibration_subset(
    train_file: str | Path,
    labels_file: str | Path,
    out_file: str | Path,
    strategy: str,
    definition: dict[str, Any],
    fraction: float,
    seed: int,
    batch_size: int,
) -> dict[str, Any]:
    """One strategy's calibration subset (indices into the training split) -> its JSON file
    (flagged where it misses a class or is smaller than one PTQ batch of `batch_size`)."""
    labels = read_frame(train_file, columns=["label"])["label"].to_numpy()
    dataset = read_json(labels_file)
    subset = sample(labels, dataset["label_names"], fraction, strategy, definition, seed)
    subset["flags"] = calibration_flags(subset, dataset["counts"]["train"], batch_size)
    log.info(
        "strategy %r: %d of %d training documents; composition %s",
        strategy,
        subset["size"],
        len(labels),
        subset["composition"],
    )
    write_json(out_file, subset)
    return subset
