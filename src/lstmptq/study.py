"""The study table: every noise cell of a dataset in one tidy table, and its summary over seeds."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .flags import joined
from .io import write_frame
from .steps import table_from_metrics

log = logging.getLogger(__name__)

CELL = ["dataset", "model", "strategy", "method", "bits", "eps"]  # a grid cell, seeds aside
MEASURES = ["accuracy", "drop_vs_clean", "drop_vs_fp32", "macro_f1"]


def t_interval(values) -> tuple[float, float]:
    """95 % confidence interval of the mean (Student t); NaN with fewer than two values."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (np.nan, np.nan)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return (values.mean() - half, values.mean() + half)


def build_study_table(dataset: str, cell_files: list[str], ptq_metric_files: list[str], fp32_metric_files: list[str]) -> pd.DataFrame:
    """One row per noise cell, with its PTQ cell's size, compression and flags (FP32: 32-bit
    floats, and the FP32 model's flags)."""
    keys = ["model", "seed", "strategy", "method", "bits", "eps", *MEASURES, "clean_accuracy", "fp32_accuracy_same_eps"]
    keys += ["corruption_rate", "unknown_share", "became_unknown_share", "changed_word_share"]
    cells = table_from_metrics(cell_files, {k: k for k in keys})
    sizes = table_from_metrics(
        ptq_metric_files,
        {k: k for k in ["strategy", "method", "bits", "size_bits", "fp32_size_bits", "compression_ratio", "flags"]} | {"model": "config.kind", "seed": "config.seed"},
    )
    fp32_sizes = sizes.groupby(["model", "seed"], as_index=False)["fp32_size_bits"].first()
    fp32_sizes = fp32_sizes.rename(columns={"fp32_size_bits": "size_bits"}).assign(strategy="fp32", method="fp32", bits=32, compression_ratio=1.0)
    fp32_flags = table_from_metrics(fp32_metric_files, {"model": "config.kind", "seed": "config.seed", "flags": "flags"})
    fp32_sizes = fp32_sizes.merge(fp32_flags, on=["model", "seed"], how="left", validate="one_to_one")
    sizes = pd.concat([sizes.drop(columns="fp32_size_bits"), fp32_sizes], ignore_index=True)
    table = cells.merge(sizes, on=["model", "seed", "strategy", "method", "bits"], how="left", validate="many_to_one")
    table["flags"] = table["flags"].map(joined)
    table.insert(0, "dataset", dataset)
    return table.sort_values(["model", "seed", "strategy", "method", "bits", "eps"], ascending=[True, True, True, True, False, True], ignore_index=True)


def summarize_over_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % CI of each measure per grid cell, across seeds."""
    rows = []
    for key, group in table.groupby(CELL, sort=False):
        row = dict(zip(CELL, key), n_seeds=group["seed"].nunique())
        for measure in MEASURES:
            row[f"{measure}_mean"] = group[measure].mean()
            row[f"{measure}_ci_low"], row[f"{measure}_ci_high"] = t_interval(group[measure])
        row["compression_ratio"] = group["compression_ratio"].mean()
        row["flags"] = joined(code for flags in group["flags"] for code in flags.split(";") if code)  # any seed's
        rows.append(row)
    return pd.DataFrame(rows)


def study_tables(
    dataset: str, cell_files: list[str], ptq_metric_files: list[str], fp32_metric_files: list[str], out_parquet: str | Path, out_csv: str | Path, out_summary: str | Path
) -> None:
    table = build_study_table(dataset, cell_files, ptq_metric_files, fp32_metric_files)
    flagged = table.loc[table["flags"] != "", "flags"].value_counts()
    if not flagged.empty:
        log.warning("flagged cells (numbers not sound; see flags.py for each code):\n%s", flagged.to_string())
    write_frame(out_parquet, table)
    write_frame(out_csv, table)
    summary = summarize_over_seeds(table)
    write_frame(out_summary, summary)
    pivot = summary.pivot_table(index=["model", "strategy", "method", "bits"], columns="eps", values="accuracy_mean").sort_index(ascending=[True, True, True, False])
    log.info("accuracy (%%, mean over seeds) by eps:\n%s", (100 * pivot).round(1).to_string())
