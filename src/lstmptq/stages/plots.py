"""Plots stage: the figures of one dataset (grid.PLOTS), PNG for the report and PDF for papers."""

from __future__ import annotations

import logging
from pathlib import Path

from lstmptq.io import read_frame
from lstmptq.report import plots

log = logging.getLogger(__name__)


def make_plots(
    study_file: str | Path, ks_file: str | Path, png_files: dict[str, str | Path], pdf_files: dict[str, str | Path]
) -> None:
    """Every figure named in `png_files` (and `pdf_files`), from the study and KS tables."""
    sns = plots.setup()
    study = read_frame(study_file)
    ks = read_frame(ks_file, keep_default_na=False)
    makers = {
        "accuracy_vs_bits": lambda: plots.accuracy_vs_bits(sns, study),
        "drop_vs_bits": lambda: plots.drop_vs_bits(sns, study),
        "accuracy_vs_eps": lambda: plots.accuracy_vs_eps(sns, study),
        "accuracy_heatmap": lambda: plots.accuracy_heatmap(sns, study),
        "ks_vs_bits": lambda: plots.ks_vs_bits(sns, ks),
        "size_vs_accuracy": lambda: plots.size_vs_accuracy(sns, study),
    }
    plots.write_figures(makers, study, png_files, pdf_files)
