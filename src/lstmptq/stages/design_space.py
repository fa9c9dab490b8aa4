"""Design-space stage: a dataset's design-space sweep (and the study's cells of its strategy and
methods) in three tables and its figures (lstmptq.report.design_space, grid.DESIGN_SPACE_PLOTS)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from lstmptq.io import ResultFileError, read_json, write_frame
from lstmptq.report import plots
from lstmptq.report.design_space import answers, cell_table, quantizer_table
from lstmptq.report.tables import with_dataset_flags

log = logging.getLogger(__name__)


def read_cells(metric_files: list[str]) -> list[dict]:
    """Every PTQ cell's metrics; a cell written before per-quantizer diagnostics is refused."""
    cells = []
    for path in metric_files:
        metrics = read_json(path)
        if "diagnostics" not in metrics or "activation_bits_per_token" not in metrics:
            raise ResultFileError(path, "has no per-quantizer diagnostics (written by an older version)")
        cells.append(metrics)
    if not cells:
        raise ValueError(
            "no design-space cells: configure design_space.methods and design_space.schemes (or .sensitivity)"
        )
    return cells


def design_space_tables(
    metric_files: list[str],
    labels_file: str,
    checks: dict,
    collapse_sqnr_db: float,
    out_table: str | Path,
    out_quantizers: str | Path,
    out_answers: str | Path,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The per-cell, per-quantizer and answers tables (lstmptq.report.design_space), written as CSV;
    every cell carries the dataset's flags (`checks:` against the class counts in `labels_file`)."""
    metrics = read_cells(metric_files)
    cells = with_dataset_flags(cell_table(metrics, collapse_sqnr_db), labels_file, checks)
    quantizers = quantizer_table(metrics, collapse_sqnr_db)
    answered = answers(cells, quantizers, collapse_sqnr_db)
    write_frame(out_table, cells)
    write_frame(out_quantizers, quantizers)
    write_frame(out_answers, answered)
    flagged = cells.loc[cells["flags"] != "", "flags"].value_counts()
    if not flagged.empty:
        log.warning("flagged cells (numbers not sound; see flags.py for each code):\n%s", flagged.to_string())
    log.info(
        "design-space answers (means over seeds):\n%s",
        answered[["model", "question", "scheme", "method", "accuracy", "gain", "verdict"]].to_string(index=False),
    )
    return cells, quantizers, answered


def design_space_plots(
    cells: pd.DataFrame, quantizers: pd.DataFrame, png_files: dict[str, str | Path], pdf_files: dict[str, str | Path]
) -> None:
    """Every figure named in `png_files` (and `pdf_files`), from the per-cell and per-quantizer tables."""
    sns = plots.setup()
    makers = {
        "design_space_pareto": lambda: plots.design_space_pareto(sns, cells),
        "design_space_sensitivity": lambda: plots.design_space_sensitivity(sns, cells),
        "design_space_sqnr": lambda: plots.design_space_sqnr(sns, quantizers, cells),
    }
    plots.write_figures(makers, cells, png_files, pdf_files)


def design_space(
    metric_files: list[str],
    labels_file: str,
    checks: dict,
    collapse_sqnr_db: float,
    out_table: str | Path,
    out_quantizers: str | Path,
    out_answers: str | Path,
    png_files: dict[str, str | Path],
    pdf_files: dict[str, str | Path],
) -> None:
    """The design-space tables, then its figures from them."""
    cells, quantizers, _ = design_space_tables(
        metric_files, labels_file, checks, collapse_sqnr_db, out_table, out_quantizers, out_answers
    )
    design_space_plots(cells, quantizers, png_files, pdf_files)
