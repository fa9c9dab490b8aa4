"""The verdict grid: every dataset's findings (lstmptq.report.findings) side by side, one column
per recipe, so that a reader sees first what the study found and where it was not run.

A cell reads e.g. `supported +3.10 [+1.20, +5.00]`: the verdict, then the mean paired difference d
and its 95 % interval over seeds, in accuracy points (percent; findings.csv holds fractions).
Findings 3 and 4, judged at each recipe's lowest bit width, add it (`at 3 bits`). `not run`: the
dataset has no findings, or the recipe no rows for it; `not measured`: its findings lack the
cells; an empty cell: the finding does not apply to the column (finding 1 is FP32 only).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lstmptq.grid import FP32
from lstmptq.io import atomic_path, read_frame, write_frame
from lstmptq.report.findings import EQUIVALENCE_MARGIN, FINDINGS, Finding

log = logging.getLogger(__name__)

NOT_RUN = "not run"
VERDICTS = ("supported", "not supported", "inconclusive", "not measured", NOT_RUN)


def cell_text(row: pd.Series, finding: Finding) -> str:
    """One findings row as the grid shows it: the verdict, d's mean and interval in points."""
    if row["verdict"] == "not measured":
        return row["verdict"]
    text = f"{row['verdict']} {100 * row['mean']:+.2f}"
    text += " (1 seed)" if np.isnan(row["ci_low"]) else f" [{100 * row['ci_low']:+.2f}, {100 * row['ci_high']:+.2f}]"
    return text + (f" at {row['bits']} bits" if finding.bits == "lowest" else "")


def verdict_grid(
    findings_by_dataset: dict[str, pd.DataFrame | None], datasets: list[str], recipes: list[str]
) -> pd.DataFrame:
    """One row per dataset, finding and (2a, 2b) bit width; columns dataset, finding, bits,
    statement, then per architecture `fp32` (finding 1) and one per recipe, each a cell_text,
    `not run` or empty. The LSTMs' columns are named by the recipe alone (every recipe in
    `recipes`), another architecture's `<architecture> <recipe>` (the recipes it ran), so the
    findings of LSTMs and transformers stand side by side."""
    found = [f for f in findings_by_dataset.values() if f is not None]
    ran = pd.concat([_with_architecture(f) for f in found]) if found else pd.DataFrame(columns=["architecture"])
    architectures = list(dict.fromkeys(["lstm", *ran["architecture"]]))
    columns = {}  # column name -> (architecture, recipe)
    for architecture in architectures:
        own = ran[ran["architecture"] == architecture]
        for recipe in [FP32, *recipes]:
            if architecture == "lstm" or recipe in set(own.get("recipe", [])):
                columns[recipe if architecture == "lstm" else f"{architecture} {recipe}"] = (architecture, recipe)
    rows = []
    for dataset in datasets:
        findings = findings_by_dataset.get(dataset)
        findings = _with_architecture(findings) if findings is not None else None
        for finding in FINDINGS:
            own = findings[findings["finding"] == finding.number] if findings is not None else None
            widths = [] if own is None or finding.bits != "each" else sorted(own["bits"].dropna().unique())[::-1]
            for bits in widths or [pd.NA]:
                row = {"dataset": dataset, "finding": finding.number, "bits": bits, "statement": finding.statement}
                for column, (architecture, recipe) in columns.items():
                    applies = (recipe == FP32) == (finding.bits == "fp32")
                    mine = own[own["architecture"] == architecture] if own is not None else None
                    row[column] = _cell(mine, finding, recipe, bits) if applies else ""
                rows.append(row)
    grid = pd.DataFrame(rows, columns=["dataset", "finding", "bits", "statement", *columns])
    return grid.astype({"bits": "Int64"})


def _with_architecture(findings: pd.DataFrame) -> pd.DataFrame:
    """A findings table from before the architecture column held the LSTMs' only."""
    return findings if "architecture" in findings else findings.assign(architecture="lstm")


def _cell(own: pd.DataFrame | None, finding: Finding, recipe: str, bits) -> str:
    """The grid's text for one finding, recipe and bit width (NA: the finding's only row)."""
    if own is None or not own["recipe"].eq(recipe).any():
        return NOT_RUN
    match = own[own["recipe"] == recipe]
    if not pd.isna(bits):
        match = match[match["bits"] == bits]
    return cell_text(match.iloc[0], finding) if len(match) else "not measured"  # a bit width this recipe lacks


STYLE = """<style>
table.verdict-grid { border-collapse: collapse; font-size: 0.8rem; }
table.verdict-grid th, table.verdict-grid td { border: 1px solid #ccc; padding: 2px 6px; vertical-align: top; }
table.verdict-grid td small { color: #444; white-space: nowrap; }
table.verdict-grid .supported { background: #d9f2d9; }
table.verdict-grid .not-supported { background: #f8d7d7; }
table.verdict-grid .inconclusive { background: #fff3c4; }
table.verdict-grid .not-measured, table.verdict-grid .not-run { background: #eee; color: #666; }
</style>"""


def _html_cell(text: str) -> str:
    """A grid cell as a coloured <td>: the verdict on one line, its numbers below."""
    if not text:
        return "<td></td>"
    verdict = next(v for v in VERDICTS if text.startswith(v))
    numbers = text[len(verdict) :].strip()
    body = f"<b>{verdict}</b>" + (f"<br><small>{html.escape(numbers)}</small>" if numbers else "")
    return f'<td class="{verdict.replace(" ", "-")}">{body}</td>'


def verdict_grid_html(grid: pd.DataFrame) -> str:
    """The grid as an HTML fragment (a report item, or raw HTML in the workflow description):
    one block of rows per dataset, then what each finding claims and compares."""
    columns = [c for c in grid.columns if c not in ("dataset", "finding", "bits", "statement")]
    kind = {f.number: f.bits for f in FINDINGS}
    header = "".join(f"<th>{html.escape(c)}</th>" for c in ["dataset", "finding", "bits", *columns])
    body = []
    for dataset, rows in grid.groupby("dataset", sort=False):
        for i, (_, row) in enumerate(rows.iterrows()):
            first = f'<th rowspan="{len(rows)}">{html.escape(dataset)}</th>' if i == 0 else ""
            bits = {"fp32": "FP32", "lowest": "lowest"}.get(
                kind[row["finding"]], "" if pd.isna(row["bits"]) else str(row["bits"])
            )
            finding = f'<td title="{html.escape(row["statement"])}">{row["finding"]}</td><td>{bits}</td>'
            body.append(f"<tr>{first}{finding}{''.join(_html_cell(row[c]) for c in columns)}</tr>")
    legend = "".join(
        f"<li><b>{f.number}</b> {html.escape(f.statement)} <i>d per seed: {html.escape(f.comparison)}</i></li>"
        for f in FINDINGS
    )
    note = (
        "<p>Each cell: the verdict, then the mean of d over seeds and its 95 % Student-t interval, in accuracy "
        f"points (percent). Supported: the interval lies above 0 (finding 3: inside +-{100 * EQUIVALENCE_MARGIN:g} "
        "points).</p>"
    )
    table = f'<table class="verdict-grid"><tr>{header}</tr>\n' + "\n".join(body) + "\n</table>"
    return f'<meta charset="utf-8">\n{STYLE}\n<div style="overflow-x: auto">{table}</div>\n<ul>{legend}</ul>\n{note}\n'


def write_verdicts(
    findings_files: dict[str, str], datasets: list[str], recipes: list[str], out_csv: str | Path, out_html: str | Path
) -> pd.DataFrame:
    """The verdict grid of every dataset's findings.csv (a dataset without one shows `not run`), as
    CSV and as the HTML the report opens on."""
    findings = {d: read_frame(f, dtype={"finding": str, "bits": "Int64"}) for d, f in findings_files.items()}
    grid = verdict_grid(findings, datasets, recipes)
    write_frame(out_csv, grid)
    with atomic_path(out_html, checksum=False) as tmp:  # for people, not read back
        tmp.write_text(verdict_grid_html(grid), encoding="utf-8")
    log.info("verdicts:\n%s", grid.drop(columns="statement").to_string(index=False))
    return grid
