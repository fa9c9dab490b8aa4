import numpy as np
import pytest

from lstmptq.data.calibration import CalibrationError, sample, spread
from lstmptq.registry import RegistryError

NAMES = ["a", "b", "c", "d"]
# an imbalanced training split: 100 / 60 / 30 / 10 documents
LABELS = np.repeat(np.arange(4), [100, 60, 30, 10])


def draw(definition, fraction=0.25, seed=0, labels=LABELS):
    return sample(labels, NAMES, fraction, "s", definition, seed)


def test_balanced_takes_equal_counts_and_fills_from_classes_that_have_more():
    subset = draw({"kind": "balanced"})
    assert subset["size"] == 50
    comp = subset["composition"]
    assert comp["d"] == 10  # all d has; the other classes share the rest evenly
    assert sorted([comp["a"], comp["b"], comp["c"]]) == [13, 13, 14]
    assert len(set(subset["indices"])) == 50


def test_random_follows_the_class_mix():
    comp = np.array([draw({"kind": "random"}, fraction=0.5, seed=s)["composition"]["a"] for s in range(20)])
    assert abs(comp.mean() - 50) < 5  # class a is half of the split


def test_skewed_puts_the_share_on_one_class():
    subset = draw({"kind": "skewed", "class": "b", "share": 0.9})
    assert subset["composition"]["b"] == 45 and subset["size"] == 50
    assert sorted(v for k, v in subset["composition"].items() if k != "b") == [1, 2, 2]


def test_single_class_reports_a_shortfall_instead_of_padding(caplog):
    subset = draw({"kind": "single_class", "class": 3})
    assert subset["composition"] == {"a": 0, "b": 0, "c": 0, "d": 10}
    assert (subset["requested_size"], subset["size"]) == (50, 10)
    assert "could supply 10" in caplog.text


def test_subsets_are_deterministic_per_seed_and_within_the_split():
    first, again, other = draw({"kind": "balanced"}), draw({"kind": "balanced"}), draw({"kind": "balanced"}, seed=1)
    assert first["indices"] == again["indices"] != other["indices"]
    assert all(LABELS[i] == LABELS[i] for i in first["indices"]) and max(first["indices"]) < len(LABELS)


def test_spread_never_exceeds_what_a_class_has():
    counts = spread(100, np.array([5, 50, 50]), np.random.default_rng(0))
    assert counts.tolist() == [5, 48, 47] or counts.tolist() == [5, 47, 48]
    assert spread(10, np.array([2, 3]), np.random.default_rng(0)).tolist() == [2, 3]


@pytest.mark.parametrize(
    "definition, fraction, message",
    [
        ({"kind": "balanced"}, 0.001, "is 0; raise it"),
        ({"kind": "single_class", "class": "zebra"}, 0.25, r"class is 'zebra'; use a label name"),
        ({"kind": "single_class", "class": 9}, 0.25, "index 0..3"),
    ],
)
def test_bad_requests_are_clear_errors(definition, fraction, message):
    with pytest.raises(CalibrationError, match=message):
        draw(definition, fraction=fraction)


def test_unknown_kind_is_refused_naming_the_known_ones():
    # kinds are looked up in lstmptq.registry (the config check refuses an unknown one first)
    with pytest.raises(
        RegistryError,
        match=r"unknown calibration kind 'clustered'; known: \['balanced', 'random', 'single_class', 'skewed'\]",
    ):
        draw({"kind": "clustered"})
