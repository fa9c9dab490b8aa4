"""Flags: conditions under which a cell's numbers are not sound, recorded beside them.

A flag is a short code; each is logged as a warning with its details when it is raised, stored
in the cell's JSON (`flags`), and carried into the tables' `flags` column, so that a table or
plot never shows a flagged cell as if it were sound. Thresholds come from the config's `checks:`.
The dataset's flags are raised where the tables are built (lstmptq.report.tables), not in any cell:
a new threshold changes no model, so it must rerun only the tables and plots.

- ``small_test_set``: one test document moves accuracy by more than `checks.max_accuracy_step`;
- ``few_train_documents``: a class has fewer training documents than `checks.min_train_per_class`;
- ``calibration_misses_class``: a balanced, random or skewed calibration subset has no document
  of a class the training split has (a single_class subset misses the others by design);
- ``calibration_smaller_than_batch``: the calibration subset is smaller than one PTQ batch.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# calibration kinds meant to cover every class
COVERING_KINDS = ("balanced", "random", "skewed")


def dataset_flags(counts: dict[str, dict[str, int]], checks: dict[str, Any]) -> list[str]:
    """Flags of a whole dataset from its per-split class counts (data/labels.json `counts`)."""
    flags = []
    n_test = sum(counts["test"].values())
    if n_test and 1 / n_test > checks["max_accuracy_step"]:
        flags.append("small_test_set")
        log.warning(
            "small_test_set: %d test documents, so one document moves accuracy by %.2f points "
            "(more than checks.max_accuracy_step %.2f); differences of a few points are noise",
            n_test, 100 / n_test, 100 * checks["max_accuracy_step"],
        )  # fmt: skip
    few = {name: n for name, n in counts["train"].items() if 0 < n < checks["min_train_per_class"]}
    if few:
        flags.append("few_train_documents")
        log.warning(
            "few_train_documents: class(es) with fewer than checks.min_train_per_class = %d training documents: %s",
            checks["min_train_per_class"],
            few,
        )
    return flags


def calibration_flags(subset: dict[str, Any], train_counts: dict[str, int], batch_size: int) -> list[str]:
    """Flags of a calibration subset (calibration/seed{seed}/{strategy}.json) for PTQ batches of `batch_size`."""
    flags = []
    missed = [name for name, n in subset["composition"].items() if n == 0 and train_counts.get(name, 0) > 0]
    if missed and subset["definition"]["kind"] in COVERING_KINDS:
        flags.append("calibration_misses_class")
        log.warning(
            "calibration_misses_class: the %s subset %r (%d documents) has no document of %s; "
            "its activation ranges never saw them",
            subset["definition"]["kind"], subset["strategy"], subset["size"], missed,
        )  # fmt: skip
    if subset["size"] < batch_size:
        flags.append("calibration_smaller_than_batch")
        log.warning(
            "calibration_smaller_than_batch: %d calibration documents, fewer than one PTQ batch (ptq.batch_size %d): "
            "calibration and GPFQ see a single small batch",
            subset["size"], batch_size,
        )  # fmt: skip
    return flags


def joined(flags) -> str:
    """The tables' `flags` column: codes joined by `;`, empty for a sound cell."""
    return ";".join(sorted(set(flags)))


def added(text: str, codes) -> str:
    """A `flags` column entry (codes joined by `;`) with `codes` added."""
    return joined([*filter(None, text.split(";")), *codes])
