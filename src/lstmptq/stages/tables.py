"""Tables stage: every result of a dataset gathered into tables (FP32, PTQ, KS, and the study
table of every noise cell with its summary over seeds)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from lstmptq.flags import joined
from lstmptq.io import read_frame, read_json, write_frame
from lstmptq.report import reference
from lstmptq.report.findings import findings_table
from lstmptq.report.tables import (
    between_strategies,
    build_study_table,
    summarize_over_seeds,
    table_from_metrics,
    with_dataset_flags,
)

log = logging.getLogger(__name__)


def summarize_fp32(
    metric_files: list[str], baseline_file: str, labels_file: str, checks: dict, out_file: str | Path
) -> pd.DataFrame:
    """One row per trained model (and the baseline): test accuracy, macro-F1, training cost, and
    the dataset's flags (`checks:` against the class counts in `labels_file`)."""
    keys = [
        "accuracy",
        "macro_f1",
        "valid_accuracy",
        "best_epoch",
        "epochs_run",
        "seconds_per_epoch",
        "padded_share",
        "n_parameters",
    ]
    models = table_from_metrics(
        metric_files, {"model": "config.kind", "seed": "config.seed", **{k: k for k in keys}, "flags": "flags"}
    )
    b = read_json(baseline_file)
    baseline = pd.DataFrame(
        [{"model": "tfidf_logreg", "accuracy": b["accuracy"], "macro_f1": b["macro_f1"], "flags": []}]
    )
    table = pd.concat([models, baseline], ignore_index=True).astype(
        {"seed": "Int64", "best_epoch": "Int64", "epochs_run": "Int64", "n_parameters": "Int64"}
    )
    table["flags"] = table["flags"].map(joined)
    table = with_dataset_flags(table, labels_file, checks)  # the baseline's too: it shares the models' data
    write_frame(out_file, table)
    log.info("\n%s", table.to_string(index=False))
    return table


def summarize_ptq(metric_files: list[str], labels_file: str, checks: dict, out_file: str | Path) -> pd.DataFrame:
    """Long table of every PTQ cell of a dataset (one row per cell, with the dataset's flags), plus
    a pivot in the log."""
    keys = [
        "recipe",
        "strategy",
        "method",
        "bits",
        "scheme",
        "accuracy",
        "fp32_accuracy",
        "accuracy_drop",
        "macro_f1",
        "size_bits",
        "compression_ratio",
        "calibration_seconds",
        "method_seconds",
        "flags",
    ]
    columns = {
        "model": "config.kind",
        "seed": "config.seed",
        **{k: k for k in keys},
        "float_reference_agreement": "float_reference.prediction_agreement",
    }
    table = table_from_metrics(metric_files, columns).assign(flags=lambda t: t["flags"].map(joined))
    table = with_dataset_flags(table, labels_file, checks)
    table = table.sort_values(
        ["model", "seed", "recipe", "strategy", "method", "bits"], ascending=[True, True, True, True, True, False]
    )
    write_frame(out_file, table)
    pivot = table.pivot_table(
        index="bits", columns=["model", "recipe", "strategy", "method"], values="accuracy", aggfunc="mean"
    ).sort_index(ascending=False)
    log.info("test accuracy by bit width (mean over seeds):\n%s", (100 * pivot).round(2).to_string())
    return table


def summarize_ks(
    dataset: str, table_files: list[str], signal_files: list[str], out_ks: str | Path, out_signal: str | Path
) -> None:
    """Dataset-level KS table (long: dataset, model, seed, strategy, bits, tensor, comparison, KS,
    p-value) and the signal-health table (|h_T| for the LSTMs)."""
    table = pd.concat([read_frame(f, keep_default_na=False) for f in table_files], ignore_index=True)
    columns = [
        "dataset",
        "model",
        "seed",
        "method",
        "recipe",
        "strategy",
        "bits",
        "tensor",
        "comparison",
        "ks",
        "p_value",
        "probe_documents",
    ]
    table = table.assign(dataset=dataset)[columns]
    write_frame(out_ks, table)
    rows = []
    for path in signal_files:
        s = read_json(path)
        for variant, health in s["signal"].items():
            rows.append(
                {
                    "dataset": dataset,
                    "model": s["model"],
                    "seed": s["seed"],
                    "method": s["method"],
                    "recipe": s["recipe"],
                    "bits": s["bits"],
                    "variant": variant,
                    **health,
                }
            )
    write_frame(out_signal, pd.DataFrame(rows))
    mismatch = table[between_strategies(table)]
    if not mismatch.empty:
        log.info(
            "calibration-mismatch KS (> 0.15 is the paper's signature):\n%s",
            mismatch.pivot_table(index=["model", "recipe", "bits"], columns="tensor", values="ks").round(3).to_string(),
        )


def study_tables(
    dataset: str,
    cell_files: list[str],
    ptq_metric_files: list[str],
    fp32_metric_files: list[str],
    labels_file: str,
    checks: dict,
    out_parquet: str | Path,
    out_csv: str | Path,
    out_summary: str | Path,
    out_findings: str | Path,
    method: str | None = None,
    reference_file: str | Path | None = None,
    reference_key: str | None = None,
    out_reference: str | Path | None = None,
) -> None:
    """Every noise cell in one table (parquet and CSV), its mean / 95 % CI over seeds, the
    study's findings tested on it with PTQ method `method` (lstmptq.report.findings), and its cells
    beside the authors' published figures where the dataset's source names them (`reference_key`,
    lstmptq.report.reference). Every row carries the dataset's flags (`checks:`, `labels_file`)."""
    table = build_study_table(dataset, cell_files, ptq_metric_files, fp32_metric_files)
    table = with_dataset_flags(table, labels_file, checks)
    flagged = table.loc[table["flags"] != "", "flags"].value_counts()
    if not flagged.empty:
        log.warning("flagged cells (numbers not sound; see flags.py for each code):\n%s", flagged.to_string())
    write_frame(out_parquet, table)
    write_frame(out_csv, table)
    summary = summarize_over_seeds(table)
    write_frame(out_summary, summary)
    pivot = summary.pivot_table(
        index=["model", "recipe", "strategy", "method", "bits"], columns=["noise", "eps"], values="accuracy_mean"
    ).sort_index(ascending=[True, True, True, True, False])
    log.info("accuracy (%%, mean over seeds) by noise model and eps:\n%s", (100 * pivot).round(1).to_string())
    findings = findings_table(table, method)
    write_frame(out_findings, findings)
    columns = ["finding", "recipe", "bits", "n_seeds", "mean", "ci_low", "ci_high", "verdict"]
    log.info("findings:\n%s", findings[columns].to_string(index=False))
    if out_reference is not None:
        reference_figures = reference.load_reference(reference_file)
        comparison = reference.comparison_table(summary, reference_figures, reference_key)
        write_frame(out_reference, comparison)
        log.info("%s", reference.comparison_note(dataset, reference_key, comparison, reference_figures))
