"""The study against the authors' figures: matching by source (never by name), the cells compared,
and the figure, on an AG-News-shaped summary with known numbers and the shipped reference CSV."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from lstmptq.config import reference_key
from lstmptq.report import plots
from lstmptq.report.reference import (
    COLUMNS,
    REFERENCE_FILE,
    comparison_note,
    comparison_table,
    load_reference,
    reference_vs_bits,
)

AG_NEWS = "fancyzhx/ag_news"
DISC_8BIT = 0.8655112047656244  # DiscQuantResults/evaluation_results_disc.csv@ba8c433, 8 bits
DISC_8BIT_V1 = 0.8572566529282001  # the same file's first version, aa4c936
HALF_CI = 0.005
FP32_ACCURACY = {"discriminative": 0.88, "generative": 0.89}


def accuracy(model: str, recipe: str, strategy: str, bits: int) -> float:
    """Known numbers; the discriminative paper balanced 8-bit cell equals the paper's ba8c433 figure."""
    if (model, recipe, strategy, bits) == ("discriminative", "paper", "balanced", 8):
        return DISC_8BIT
    return 0.80 + 0.01 * bits - 0.02 * (strategy == "random") - 0.1 * (recipe == "uniform")


def row(model, recipe, strategy, method, bits, noise, eps, mean, half=HALF_CI, n_seeds=3):
    return {
        "dataset": "ag_news", "model": model, "recipe": recipe, "strategy": strategy, "method": method,
        "bits": bits, "noise": noise, "eps": eps, "n_seeds": n_seeds, "accuracy_mean": mean,
        "accuracy_ci_low": mean - half, "accuracy_ci_high": mean + half, "compression_ratio": 32 / bits, "flags": "",
    }  # fmt: skip


@pytest.fixture
def summary() -> pd.DataFrame:
    """AG News-shaped: two classifiers, recipes paper and uniform, two strategies, gpfq at 8..3 bits,
    FP32, clean and noisy, plus a second noise model whose eps 0 rows differ (to see which is used)
    and a `paper` cell at 16 bits (which the reference's 8-bit-LSTM "16" row must not meet)."""
    rows = []
    for model, (noise, shift), eps in itertools.product(
        ["discriminative", "generative"], [("char_substitution", 0.0), ("word_dropout", -0.3)], [0.0, 0.1]
    ):
        for recipe, strategy, bits in itertools.product(["paper", "uniform"], ["balanced", "random"], range(8, 2, -1)):
            mean = accuracy(model, recipe, strategy, bits) + shift - eps
            rows.append(row(model, recipe, strategy, "gpfq", bits, noise, eps, mean))
        rows.append(row(model, "fp32", "fp32", "fp32", 32, noise, eps, FP32_ACCURACY[model] + shift - eps))
        rows.append(row(model, "paper", "balanced", "gpfq", 16, noise, eps, 0.5))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return load_reference()


def test_the_reference_file_is_found_from_the_module_and_keeps_commits_as_strings(reference):
    assert REFERENCE_FILE.is_file()
    assert REFERENCE_FILE.parts[-3:] == ("workflow", "reference", "ptq_gendisc.csv")
    assert set(reference["source_commit"]) >= {"ba8c433", "aa4c936", "d677f2e", "4cdbb1f"}


@pytest.mark.parametrize(
    "source, key",
    [
        ({"kind": "hub", "path": AG_NEWS, "text_columns": ["text"]}, AG_NEWS),
        ({"kind": "embedded", "reference": AG_NEWS}, AG_NEWS),
        ({"kind": "embedded"}, None),
        ({"kind": "files", "train": "train.csv", "test": "test.csv"}, None),
        ({"kind": "hub", "path": "someone/ag_news_copy"}, "someone/ag_news_copy"),
        ({"kind": "hub", "path": AG_NEWS, "reference": None}, None),  # an explicit opt-out
    ],
)
def test_reference_key_comes_from_the_source(source, key):
    assert reference_key(source) == key


@pytest.mark.parametrize(
    "name, source, matches",
    [
        ("ag_news", {"kind": "hub", "path": AG_NEWS}, True),
        ("bbc_like", {"kind": "embedded", "reference": AG_NEWS}, True),
        ("local", {"kind": "files", "train": "train.csv"}, False),
        ("other_hub", {"kind": "hub", "path": "someone/ag_news_copy"}, False),
        ("ag_news", {"kind": "files", "train": "ag_news/train.csv"}, False),  # the name alone matches nothing
    ],
)
def test_a_dataset_matches_by_its_source_never_by_its_name(summary, reference, name, source, matches):
    table = comparison_table(summary.assign(dataset=name), reference, reference_key(source))
    assert list(table.columns) == COLUMNS
    assert (not table.empty) == matches
    if matches:
        assert set(table["dataset"]) == {name}
        assert set(table["dataset_reference"]) == {AG_NEWS}


def test_only_the_reference_recipe_at_3_to_8_bits_on_the_clean_test_set_is_compared(summary, reference):
    table = comparison_table(summary, reference, AG_NEWS)
    assert set(table["recipe"]) == {"paper"}  # not uniform, not fp32
    assert set(table["strategy"]) == {"balanced", "random"}
    assert set(table["bits"]) == set(range(3, 9))  # the 16-bit cell meets no "16" row, FP32 no "32" row
    # disc: 2 strategies x 6 bits x 2 file versions; gen: 2 x (6 x 2 files + the second 3-bit run)
    assert len(table) == 2 * 6 * 2 + 2 * (6 * 2 + 1)
    # clean and first noise model only: every row carries the char_substitution eps-0 number
    expected = [
        accuracy(m, r, s, b) for m, r, s, b in zip(table["model"], table["recipe"], table["strategy"], table["bits"])
    ]
    assert np.allclose(table["our_accuracy"], expected, rtol=0, atol=1e-12)
    assert (table["n_seeds"] == 3).all()


def test_the_two_generative_3_bit_runs_are_both_compared(summary, reference):
    table = comparison_table(summary, reference, AG_NEWS)
    runs = table[
        (table["model"] == "generative")
        & (table["bits"] == 3)
        & (table["strategy"] == "balanced")
        & (table["paper_source"] == "GenQuantResults_ag_news/evaluation_results.csv@d677f2e")
    ]
    assert sorted(runs["paper_run"]) == [1, 2]
    assert sorted((100 * runs["paper_accuracy"]).round(2)) == [86.04, 86.25]
    assert set(runs["paper_calibration"]) == {"balanced (likely)"}


def test_difference_is_ours_minus_the_paper_and_the_ci_check_is_right(summary, reference):
    table = comparison_table(summary, reference, AG_NEWS)
    assert (table["difference"] == table["our_accuracy"] - table["paper_accuracy"]).all()
    cell = table[
        (table["model"] == "discriminative") & (table["strategy"] == "balanced") & (table["bits"] == 8)
    ].set_index("paper_source")
    v2 = cell.loc["DiscQuantResults/evaluation_results_disc.csv@ba8c433"]
    v1 = cell.loc["DiscQuantResults/evaluation_results_disc.csv@aa4c936"]
    assert v2["paper_accuracy"] == DISC_8BIT and v2["difference"] == 0.0 and v2["paper_inside_ci"]
    assert v1["paper_accuracy"] == DISC_8BIT_V1 and v1["difference"] == DISC_8BIT - DISC_8BIT_V1
    assert not v1["paper_inside_ci"]  # 0.008 away, the interval is +-0.005
    gen5 = table[
        (table["model"] == "generative") & (table["strategy"] == "random") & (table["bits"] == 5)
        & (table["paper_source"] == "GenQuantResults/evaluation_results.csv@4cdbb1f")
    ]  # fmt: skip
    assert gen5["difference"].item() == accuracy("generative", "paper", "random", 5) - 0.6061842105263158


def test_fp32_is_a_column_per_classifier_not_a_matched_row(summary, reference):
    table = comparison_table(summary, reference, AG_NEWS)
    assert "fp32" not in set(table["strategy"])
    assert dict(zip(table["model"], table["our_fp32_accuracy"])) == FP32_ACCURACY


def test_one_seed_gives_no_ci_verdict(summary, reference):
    one_seed = summary.assign(n_seeds=1, accuracy_ci_low=np.nan, accuracy_ci_high=np.nan)
    table = comparison_table(one_seed, reference, AG_NEWS)
    assert not table.empty
    assert table["paper_inside_ci"].isna().all()


def test_nothing_matching_is_an_empty_table_and_a_plain_note(summary, reference):
    for key in (None, "someone/ag_news_copy"):
        table = comparison_table(summary, reference, key)
        assert table.empty and list(table.columns) == COLUMNS
    no_paper = comparison_table(summary[summary["recipe"] != "paper"], reference, AG_NEWS)
    assert no_paper.empty and list(no_paper.columns) == COLUMNS

    note = comparison_note("bbc_news", None, comparison_table(summary, reference, None), reference=reference)
    assert note.startswith("bbc_news: no reference figures (its source names no reference")
    assert "fancyzhx/ag_news and fancyzhx/dbpedia_14 only" in note and note.endswith("nothing is compared")
    assert comparison_note("bbc_news", None, pd.DataFrame(columns=COLUMNS)).endswith("nothing is compared")
    other = comparison_note("copy", "someone/ag_news_copy", pd.DataFrame(columns=COLUMNS), reference=reference)
    assert "someone/ag_news_copy, which has no reference figures" in other
    assert "no study cell does" in comparison_note("ag_news", AG_NEWS, no_paper, reference=reference)


def test_the_note_counts_what_was_compared(summary, reference):
    table = comparison_table(summary, reference, AG_NEWS)
    note = comparison_note("ag_news", AG_NEWS, table, reference=reference)
    assert note.startswith("ag_news matches fancyzhx/ag_news: 24 cells compared with 25 reference figures")
    assert f"({len(table)} comparisons)" in note


def _bands(figure) -> int:
    return sum(isinstance(c, PolyCollection) for ax in figure.axes for c in ax.collections)


def test_the_figure_draws_paper_lines_and_ours_with_bands(summary, reference, tmp_path):
    sns = plots.setup()
    table = comparison_table(summary, reference, AG_NEWS)
    figure = reference_vs_bits(sns, summary, table, reference, AG_NEWS)
    assert [ax.get_title() for ax in figure.axes] == ["discriminative", "generative"]
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert sum(label.startswith("paper: DiscQuantResults") for label in labels) == 2  # one line per file version
    assert "ours: paper, balanced" in labels and "ours: uniform, random" in labels and "ours: FP32" in labels
    assert _bands(figure) == 2 * 4  # per classifier: 2 recipes x 2 strategies
    figure.savefig(tmp_path / "match.png")
    plt.close(figure)

    one_seed = summary.assign(accuracy_ci_low=np.nan, accuracy_ci_high=np.nan)
    figure = reference_vs_bits(sns, one_seed, comparison_table(one_seed, reference, AG_NEWS), reference, AG_NEWS)
    assert _bands(figure) == 0
    plt.close(figure)


def test_the_figure_says_so_when_nothing_matches(summary, reference, tmp_path):
    sns = plots.setup()
    bbc = summary.assign(dataset="bbc_news")
    figure = reference_vs_bits(sns, bbc, comparison_table(bbc, reference, None), reference, None)
    text = " ".join(t.get_text() for ax in figure.axes for t in ax.texts).replace("\n", " ")
    assert text.startswith("bbc_news: no reference figures")
    figure.savefig(tmp_path / "none.png")
    plt.close(figure)
