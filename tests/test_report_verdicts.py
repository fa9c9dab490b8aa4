"""The verdict grid: every dataset's findings side by side, one column per recipe (lstmptq.report.verdicts)."""

import pandas as pd
import pytest
from test_report_findings import PAPER, study

from lstmptq.io import write_frame
from lstmptq.report.findings import findings_table
from lstmptq.report.verdicts import verdict_grid, verdict_grid_html, write_verdicts

UNIFORM = {("uniform", 5): (0.05, 0.40), ("uniform", 3): (0.30, 0.60)}  # generative collapses at 5 bits and below


def cells(grid: pd.DataFrame, dataset: str, finding: str, bits=None) -> dict:
    """The grid's row for one dataset, finding (and bit width) without its key columns."""
    rows = grid[(grid["dataset"] == dataset) & (grid["finding"] == finding)]
    rows = rows[rows["bits"] == bits] if bits is not None else rows
    assert len(rows) == 1
    return rows.drop(columns=["dataset", "finding", "bits", "statement"]).iloc[0].to_dict()


@pytest.fixture
def grid():
    findings = {"ag_news": findings_table(study(cells=PAPER | UNIFORM)), "dbpedia_14": None}
    return verdict_grid(findings, ["ag_news", "dbpedia_14"], ["paper", "paper_split", "uniform"])


def test_one_row_per_dataset_finding_and_2a_2b_bit_width(grid):
    assert list(grid.columns) == ["dataset", "finding", "bits", "statement", "fp32", "paper", "paper_split", "uniform"]
    ag_news = grid[grid["dataset"] == "ag_news"]
    assert ag_news["finding"].tolist() == ["1", "2a", "2a", "2b", "2b", "3", "4"]
    assert ag_news["bits"].tolist()[1:5] == [5, 3, 5, 3] and ag_news["bits"].iloc[[0, 5, 6]].isna().all()


def test_cells_give_the_verdict_and_the_interval_in_points(grid):
    assert cells(grid, "ag_news", "1") == {
        "fp32": "supported +15.00 [+15.00, +15.00]",
        "paper": "",
        "paper_split": "",
        "uniform": "",
    }
    two_a = cells(grid, "ag_news", "2a", bits=3)
    assert two_a["fp32"] == "" and two_a["paper"].startswith("not supported -20.")
    assert two_a["uniform"].startswith("supported +29.") and two_a["paper_split"] == "not run"
    assert cells(grid, "ag_news", "2a", bits=5)["paper"] == "not measured"  # the paper recipe has no 5-bit cells
    assert (
        cells(grid, "ag_news", "3")["uniform"].startswith("supported")
        and "at 3 bits" in cells(grid, "ag_news", "3")["uniform"]
    )


def test_a_dataset_not_run_shows_no_verdict(grid):
    dbpedia = grid[grid["dataset"] == "dbpedia_14"]
    assert dbpedia["finding"].tolist() == ["1", "2a", "2b", "3", "4"]  # no bit widths known
    shown = set(dbpedia[["fp32", "paper", "paper_split", "uniform"]].to_numpy().ravel())
    assert shown == {"not run", ""}
    missing = verdict_grid({}, ["bbc_news"], ["paper"])  # not even given: the same
    assert set(missing["paper"]) == {"not run", ""} and set(missing["fp32"]) == {"not run", ""}


def test_one_seed_shows_no_interval():
    grid = verdict_grid({"ag_news": findings_table(study(seeds=(0,)))}, ["ag_news"], ["paper"])
    assert cells(grid, "ag_news", "1")["fp32"] == "inconclusive +15.00 (1 seed)"


def test_html_colours_each_verdict_and_escapes_text(grid):
    page = verdict_grid_html(grid)
    assert page.count("<tr>") == len(grid) + 1 and '<th rowspan="7">ag_news</th>' in page
    assert '<td class="not-run"><b>not run</b></td>' in page
    assert '<td class="supported"><b>supported</b><br><small>+15.00 [+15.00, +15.00]</small></td>' in page
    assert page.isascii()


def test_write_verdicts_reads_findings_csv_as_written(tmp_path, grid):
    write_frame(tmp_path / "findings.csv", findings_table(study(cells=PAPER | UNIFORM)))
    written = write_verdicts(
        {"ag_news": str(tmp_path / "findings.csv")},
        ["ag_news", "dbpedia_14"],
        ["paper", "paper_split", "uniform"],
        tmp_path / "verdicts.csv",
        tmp_path / "verdicts.html",
    )
    pd.testing.assert_frame_equal(written, grid)
    assert (tmp_path / "verdicts.html").read_text() == verdict_grid_html(grid)
