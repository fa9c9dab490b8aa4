"""Plots stage: the figures of one dataset (grid.PLOTS), PNG for the report and PDF for papers."""

from __future__ import annotations

import logging
from pathlib import Path

from lstmptq.io import read_frame
from lstmptq.report import plots, reference

log = logging.getLogger(__name__)


def make_plots(
    study_file: str | Path,
    ks_file: str | Path,
    png_files: dict[str, str | Path],
    pdf_files: dict[str, str | Path],
    summary_file: str | Path | None = None,
    comparison_file: str | Path | None = None,
    reference_file: str | Path | None = None,
    reference_key: str | None = None,
) -> None:
    """Every figure named in `png_files` (and `pdf_files`), from the study and KS tables; the
    reference figure from the summary, the reference comparison and the authors' figures."""
    sns = plots.setup()
    study = read_frame(study_file)
    ks = read_frame(ks_file, keep_default_na=False)

    def against_reference():
        summary, comparison = read_frame(summary_file), read_frame(comparison_file)
        return reference.reference_vs_bits(
            sns, summary, comparison, reference.load_reference(reference_file), reference_key
        )

    makers = {
        "accuracy_vs_bits": lambda: plots.accuracy_vs_bits(sns, study),
        "drop_vs_bits": lambda: plots.drop_vs_bits(sns, study),
        "accuracy_vs_eps": lambda: plots.accuracy_vs_eps(sns, study),
        "accuracy_heatmap": lambda: plots.accuracy_heatmap(sns, study),
        "ks_vs_bits": lambda: plots.ks_vs_bits(sns, ks),
        "size_vs_accuracy": lambda: plots.size_vs_accuracy(sns, study),
        "reference_vs_bits": against_reference,
    }
    plots.write_figures(makers, study, png_files, pdf_files)
