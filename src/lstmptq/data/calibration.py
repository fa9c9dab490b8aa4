"""Calibration subsets of the training split: which documents PTQ observes.

A strategy is a named config entry with a `kind`:

- ``balanced``: class-conditional, equal documents per class as far as each class allows;
- ``random``: class-unconditional, a uniform sample whatever its class mix;
- ``skewed``: `share` of the subset from one `class`, the rest spread evenly over the others;
- ``single_class``: every document from one `class`.

Sizes that a class cannot supply are filled from the other classes where the kind allows it
(balanced, skewed's remainder) and reported as a shortfall otherwise; nothing is silent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmptq.registry import lookup

log = logging.getLogger(__name__)


class CalibrationError(ValueError):
    """A calibration request the training split cannot meet: the message says which and why."""


def subset_size(fraction: float, n_train: int) -> int:
    size = int(round(fraction * n_train))
    if size < 1:
        raise CalibrationError(f"calibration.fraction {fraction} of {n_train} training documents is {size}; raise it")
    if size > n_train:
        raise CalibrationError(
            f"calibration.fraction {fraction} asks for {size} documents; the training split has {n_train}"
        )
    return size


def spread(total: int, available: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split `total` as evenly as possible over classes, none beyond what it has.

    Classes that run out give their share to the others; the last few documents of an uneven
    split go to classes in a seeded random order, so no class is always favoured.
    """
    counts = np.zeros(len(available), dtype=np.int64)
    remaining = min(int(total), int(available.sum()))
    while remaining > 0:
        open_classes = np.flatnonzero(counts < available)
        each = remaining // len(open_classes)
        if each == 0:  # fewer documents left than classes with room
            counts[rng.permutation(open_classes)[:remaining]] += 1
            break
        add = np.minimum(each, available[open_classes] - counts[open_classes])
        counts[open_classes] += add
        remaining -= int(add.sum())
    return counts


def class_index(definition: dict[str, Any], label_names: Sequence[str], strategy: str) -> int:
    """The class a skewed / single_class strategy targets, given by name or index."""
    target = definition.get("class")
    if isinstance(target, int) and 0 <= target < len(label_names):
        return target
    if isinstance(target, str) and target in label_names:
        return list(label_names).index(target)
    raise CalibrationError(
        f"calibration.definitions.{strategy}.class is {target!r}; "
        f"use a label name {list(label_names)} or an index 0..{len(label_names) - 1}"
    )


def by_class(labels: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`counts[c]` documents of each class c, drawn without replacement."""
    return np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), size=n, replace=False) for c, n in enumerate(counts)]
    )


# The calibration kinds (registry.CALIBRATION_KINDS): (labels, label_names, size, definition,
# strategy, rng) -> indices into the training split.


def uniform(labels, label_names, size, definition, strategy, rng) -> np.ndarray:
    """`random`: a uniform sample, whatever its class mix."""
    return rng.choice(len(labels), size=size, replace=False)


def balanced(labels, label_names, size, definition, strategy, rng) -> np.ndarray:
    """Equal documents per class as far as each class allows."""
    return by_class(labels, spread(size, np.bincount(labels, minlength=len(label_names)), rng), rng)


def skewed(labels, label_names, size, definition, strategy, rng, share: float | None = None) -> np.ndarray:
    """`share` of the subset from one `class`, the rest spread evenly over the others."""
    share = definition["share"] if share is None else share
    available = np.bincount(labels, minlength=len(label_names))
    target = class_index(definition, label_names, strategy)
    counts = np.zeros(len(available), dtype=np.int64)
    counts[target] = min(int(round(share * size)), int(available[target]))
    if share < 1:
        others = available.copy()
        others[target] = 0
        counts += spread(size - int(round(share * size)), others, rng)
    return by_class(labels, counts, rng)


def single_class(labels, label_names, size, definition, strategy, rng) -> np.ndarray:
    """Every document from one `class`."""
    return skewed(labels, label_names, size, definition, strategy, rng, share=1.0)


def sample(
    labels: np.ndarray,
    label_names: Sequence[str],
    fraction: float,
    strategy: str,
    definition: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Indices into the training split for one strategy, and what was asked vs. what was used."""
    kind = lookup("calibration_kinds", definition["kind"])
    labels = np.asarray(labels)
    size = subset_size(fraction, len(labels))
    indices = np.sort(kind(labels, label_names, size, definition, strategy, np.random.default_rng(seed)))
    composition = np.bincount(labels[indices], minlength=len(label_names))
    result = {
        "strategy": strategy,
        "definition": definition,
        "seed": seed,
        "fraction": fraction,
        "requested_size": size,
        "size": int(len(indices)),
        "composition": {name: int(n) for name, n in zip(label_names, composition)},
        "indices": indices.tolist(),
    }
    if len(indices) < size:
        log.warning(
            "strategy %r: asked for %d documents, the training split could supply %d (composition %s)",
            strategy, size, len(indices), result["composition"],
        )  # fmt: skip
    return result
