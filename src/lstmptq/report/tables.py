"""Tables from result files: rows from metrics JSON, the study table (every noise cell of a
dataset in one tidy table) and its summary over seeds, and what the KS tables' rows mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from lstmptq.flags import added, dataset_flags, joined
from lstmptq.grid import FP32, FP32_BITS
from lstmptq.io import read_json
from lstmptq.registry import architecture_of

CELL = ["dataset", "model", "recipe", "strategy", "method", "bits", "noise", "eps"]  # a grid cell, seeds aside
PTQ_CELL = [
    "model",
    "seed",
    "recipe",
    "strategy",
    "method",
    "bits",
]  # one PTQ cell (FP32: recipe, strategy, method fp32)
MEASURES = ["accuracy", "drop_vs_clean", "drop_vs_fp32", "macro_f1"]


def table_from_metrics(
    metric_files: list[str], columns: dict[str, str], defaults: dict[str, object] | None = None
) -> pd.DataFrame:
    """One row per metrics.json; `columns` maps a column name to a dotted key path in the JSON;
    `defaults` gives a column's value where a file predates its key (e.g. FP32 cells without `recipe`)."""
    defaults = defaults or {}

    def get(metrics: dict, column: str, path: str):
        for part in path.split("."):
            if part not in metrics and column in defaults:
                return defaults[column]
            metrics = metrics[part]
        return metrics

    return pd.DataFrame(
        [{column: get(read_json(p), column, key) for column, key in columns.items()} for p in metric_files],
        columns=list(columns),
    )


def with_dataset_flags(table: pd.DataFrame, labels_file: str, checks: dict) -> pd.DataFrame:
    """`table` with its dataset's flags (lstmptq.flags.dataset_flags: the class counts in the data
    step's labels.json against the config's `checks:`) added to every row's `flags`. Raised here,
    not in the jobs that train or quantize, so that a new threshold reruns only tables and plots."""
    codes = dataset_flags(read_json(labels_file)["counts"], checks)
    return table.assign(flags=table["flags"].map(lambda text: added(text, codes)))


def between_strategies(ks_table: pd.DataFrame) -> pd.Series:
    """Rows of a KS table that compare two calibration strategies' models (e.g. balanced_vs_random):
    the only rows without a `strategy` of their own."""
    return ks_table["strategy"].eq("")


def t_interval(values) -> tuple[float, float]:
    """95 % confidence interval of the mean (Student t); NaN with fewer than two values."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return (np.nan, np.nan)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return (values.mean() - half, values.mean() + half)


def build_study_table(
    dataset: str, cell_files: list[str], ptq_metric_files: list[str], fp32_metric_files: list[str]
) -> pd.DataFrame:
    """One row per noise cell, with its PTQ cell's size, compression and flags (FP32: 32-bit
    floats, and the FP32 model's flags)."""
    keys = [*PTQ_CELL, "noise", "eps", *MEASURES, "clean_accuracy", "fp32_accuracy_same_eps"]
    keys += ["corruption_rate", "unknown_share", "became_unknown_share", "changed_word_share"]
    cells = table_from_metrics(cell_files, {k: k for k in keys}, defaults={"recipe": FP32})
    sizes = table_from_metrics(
        ptq_metric_files,
        {k: k for k in ["recipe", "strategy", "method", "bits", "scheme", "size_bits", "fp32_size_bits"]}
        | {k: k for k in ["compression_ratio", "flags"]}
        | {"model": "config.kind", "seed": "config.seed"},
    )
    fp32_sizes = sizes.groupby(["model", "seed"], as_index=False)["fp32_size_bits"].first()
    fp32_sizes = fp32_sizes.rename(columns={"fp32_size_bits": "size_bits"}).assign(
        recipe=FP32, strategy=FP32, method=FP32, bits=FP32_BITS, scheme=FP32, compression_ratio=1.0
    )
    fp32_flags = table_from_metrics(
        fp32_metric_files, {"model": "config.kind", "seed": "config.seed", "flags": "flags"}
    )
    fp32_sizes = fp32_sizes.merge(fp32_flags, on=["model", "seed"], how="left", validate="one_to_one")
    sizes = pd.concat([sizes.drop(columns="fp32_size_bits"), fp32_sizes], ignore_index=True)
    table = cells.merge(sizes, on=PTQ_CELL, how="left", validate="many_to_one")
    table["flags"] = table["flags"].map(joined)
    families = {model: architecture_of(model) for model in table["model"].unique()}
    table.insert(1, "architecture", table["model"].map(lambda m: families[m][0]))
    table.insert(2, "kind", table["model"].map(lambda m: families[m][1]))
    table.insert(0, "dataset", dataset)
    return table.sort_values(
        [*PTQ_CELL, "noise", "eps"], ascending=[True, True, True, True, True, False, True, True], ignore_index=True
    )


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
