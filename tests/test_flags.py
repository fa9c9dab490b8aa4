"""Flags for cells whose numbers are not sound: raised, logged and drawn."""

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from lstmptq.data.calibration import sample  # noqa: E402
from lstmptq.flags import added, calibration_flags, dataset_flags, joined  # noqa: E402
from lstmptq.io import write_json  # noqa: E402
from lstmptq.report.plots import flag_note, mark_flagged  # noqa: E402
from lstmptq.report.tables import with_dataset_flags  # noqa: E402

CHECKS = {"min_train_per_class": 20, "max_accuracy_step": 0.01}


def test_dataset_flags_small_test_set_and_few_training_documents(caplog):
    sound = {"train": {"a": 300, "b": 280}, "test": {"a": 60, "b": 40}}  # 100 test documents: one is exactly a point
    assert dataset_flags(sound, CHECKS) == []
    with caplog.at_level(logging.WARNING):
        flags = dataset_flags({"train": {"a": 300, "b": 19}, "test": {"a": 60, "b": 39}}, CHECKS)
    assert flags == ["small_test_set", "few_train_documents"]
    assert "one document moves accuracy by 1.01 points" in caplog.text and "'b': 19" in caplog.text


def test_the_tables_add_the_dataset_flags_to_every_row(tmp_path, caplog):
    """Raised where tables are built (from labels.json and `checks:`), beside each cell's own flags."""
    labels = tmp_path / "labels.json"
    write_json(labels, {"counts": {"train": {"a": 300, "b": 19}, "test": {"a": 60, "b": 60}}})
    table = pd.DataFrame({"flags": ["", "calibration_smaller_than_batch", "few_train_documents"]})
    with caplog.at_level(logging.WARNING):
        flagged = with_dataset_flags(table, str(labels), CHECKS)
    assert list(flagged["flags"]) == [
        "few_train_documents", "calibration_smaller_than_batch;few_train_documents", "few_train_documents"
    ]  # fmt: skip
    assert "few_train_documents: class(es) with fewer than checks.min_train_per_class = 20" in caplog.text
    assert list(with_dataset_flags(table, str(labels), {**CHECKS, "min_train_per_class": 5})["flags"]) == list(
        table["flags"]
    )
    assert added("", []) == "" and added("b;a", ["a", "c"]) == "a;b;c"


def test_a_balanced_subset_of_a_tiny_dataset_is_flagged(caplog):
    # 5 classes, 2 training documents each: a 25 % subset has 2 or 3 documents, so misses classes
    labels = [c for c in range(5) for _ in range(2)]
    names = list("abcde")
    subset = sample(labels, names, 0.25, "balanced", {"kind": "balanced"}, seed=0)
    assert sum(n > 0 for n in subset["composition"].values()) < 5
    with caplog.at_level(logging.WARNING):
        flags = calibration_flags(subset, dict.fromkeys(names, 2), batch_size=32)
    assert flags == ["calibration_misses_class", "calibration_smaller_than_batch"]
    assert "calibration_misses_class" in caplog.text and "fewer than one PTQ batch" in caplog.text
    # a single-class subset misses the other classes by design: not flagged for it
    single = sample(labels, names, 0.2, "only_a", {"kind": "single_class", "class": "a"}, seed=0)
    assert calibration_flags(single, dict.fromkeys(names, 2), batch_size=2) == []
    assert joined(["b", "a", "b"]) == "a;b" and joined([]) == ""


def test_flagged_points_are_marked_and_named_on_the_figure():
    data = pd.DataFrame({
        "bits": [8, 4, 8, 4], "accuracy": [0.9, 0.5, 0.8, 0.4], "model": ["m"] * 4,
        "strategy": ["balanced", "balanced", "random", "random"], "flags": ["", "calibration_misses_class", "", ""],
    })  # fmt: skip
    figure, ax = plt.subplots()
    assert mark_flagged({None: ax}, data, "bits", "accuracy", None, ["model", "strategy"]) == 1
    assert [tuple(c.get_offsets()[0]) for c in ax.collections] == [(4.0, 0.5)]
    flag_note(figure, data)
    assert any("calibration_misses_class (1 of 4 rows)" in t.get_text() for t in figure.texts)
    plt.close(figure)
