"""The study against the authors' published figures (workflow/reference/ptq_gendisc.csv).

A dataset meets the reference only through its source (lstmptq.config.reference_key), never its name:
a config may call anything `ag_news`. Only the reference's 3..8-bit rows are compared: its "16"
and "32" rows keep an 8-bit LSTM (docs/paper-recipe.md §1.7), so they are neither our FP32 model
nor any N-bit cell of ours. Our FP32 model is therefore not matched to any reference row; it rides
along as `our_fp32_accuracy`, the model's clean FP32 accuracy (mean over seeds) on every row.
Only the clean test set is compared (eps 0; the authors ran no noise), once per cell.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lstmptq.grid import FP32
from lstmptq.report.plots import _empty, _percent, mark_flagged, model_colors

REPO = Path(__file__).resolve().parents[3]  # src/lstmptq/report/reference.py -> the repository
REFERENCE_FILE = REPO / "workflow" / "reference" / "ptq_gendisc.csv"
COMPARED_BITS = range(3, 9)  # the reference's N-bit rows; "16" and "32" are 8-bit LSTMs, not FP32

PAPER = {"accuracy": "paper_accuracy", "source": "paper_source", "run": "paper_run", "calibration": "paper_calibration"}
COLUMNS = [
    "dataset", "dataset_reference", "model", "recipe", "strategy", "method", "bits", "n_seeds",
    "our_accuracy", "our_ci_low", "our_ci_high", "our_fp32_accuracy", "flags",
    *PAPER.values(), "difference", "paper_inside_ci",
]  # fmt: skip
PAPER_MARKERS = ("o", "s", "^", "D", "v", "P")  # one per reference file/version, in order
OUR_STYLES = ("-", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)))  # one per strategy; dashed is the paper's


def load_reference(path: str | Path = REFERENCE_FILE) -> pd.DataFrame:
    """The reference CSV as written; commits stay strings (an all-digit hash would parse as a number)."""
    return pd.read_csv(path, dtype={"source_commit": str, "source_file": str})


def _clean(summary: pd.DataFrame) -> pd.DataFrame:
    """The clean test set, each cell once: eps 0 is the same data under every noise model, so the
    first noise model's rows stand for all."""
    clean = summary[summary["eps"] == 0]
    if clean.empty:
        return clean
    return clean[clean["noise"] == clean["noise"].iloc[0]].assign(bits=lambda f: f["bits"].astype(int))


def _figures(reference: pd.DataFrame, dataset_key: str | None) -> pd.DataFrame:
    """The reference rows that can be compared for `dataset_key`, with `source` = file@commit."""
    rows = reference[(reference["dataset_reference"] == dataset_key) & reference["bits"].isin(COMPARED_BITS)]
    return rows.assign(
        bits=lambda f: f["bits"].astype(int), source=lambda f: f["source_file"] + "@" + f["source_commit"]
    )


def comparison_table(summary: pd.DataFrame, reference: pd.DataFrame, dataset_key: str | None) -> pd.DataFrame:
    """One row per study cell (clean test set) and reference figure of the same dataset key,
    classifier, recipe and bit width (3..8). Empty, with the same columns, where nothing matches:
    a dataset without reference figures is a normal case, not an error."""
    clean = _clean(summary)
    figures = _figures(reference, dataset_key)
    if dataset_key is None or clean.empty or figures.empty:
        return pd.DataFrame(columns=COLUMNS)
    fp32 = clean[clean["strategy"] == FP32].groupby("model")["accuracy_mean"].mean()
    ours = clean[clean["strategy"] != FP32].rename(
        columns={"accuracy_mean": "our_accuracy", "accuracy_ci_low": "our_ci_low", "accuracy_ci_high": "our_ci_high"}
    )
    paper = figures.rename(columns=PAPER)[["dataset_reference", "model", "recipe", "bits", *PAPER.values()]]
    table = ours.merge(paper, on=["model", "recipe", "bits"], how="inner", validate="many_to_many")
    if table.empty:
        return pd.DataFrame(columns=COLUMNS)
    table["our_fp32_accuracy"] = table["model"].map(fp32)
    table["difference"] = table["our_accuracy"] - table["paper_accuracy"]
    table["paper_inside_ci"] = _inside(table["paper_accuracy"], table["our_ci_low"], table["our_ci_high"])
    table = table.sort_values(
        ["model", "recipe", "strategy", "method", "bits", "paper_source", "paper_run"],
        ascending=[True, True, True, True, False, True, True],
        ignore_index=True,
    )
    return table[COLUMNS]


def _inside(value: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    """Whether `value` lies in [low, high]; <NA> where there is no interval (one seed)."""
    inside = ((low <= value) & (value <= high)).astype("boolean")
    return inside.mask(low.isna() | high.isna())


def comparison_note(
    dataset: str, dataset_key: str | None, table: pd.DataFrame, reference: pd.DataFrame | None = None
) -> str:
    """One plain sentence for the report on what was compared, and why nothing was where it was not.
    `reference` (optional) lets the sentence name the datasets the authors published."""
    published = ""
    if reference is not None:
        keys = sorted(reference["dataset_reference"].dropna().unique())
        published = f"; the authors published {' and '.join(keys)} only"
    if dataset_key is None:
        return f"{dataset}: no reference figures (its source names no reference{published}); nothing is compared"
    if reference is not None and dataset_key not in set(reference["dataset_reference"]):
        return (
            f"{dataset}: its source names {dataset_key}, which has no reference figures{published}; nothing is compared"
        )
    if table.empty:
        recipes = "" if reference is None else " (" + ", ".join(sorted(set(reference["recipe"]))) + ")"
        return (
            f"{dataset} matches {dataset_key}, but no study cell does: none has the reference's recipe{recipes} "
            f"at {COMPARED_BITS.start}..{COMPARED_BITS.stop - 1} bits; nothing is compared"
        )
    cells = table.drop_duplicates(["model", "recipe", "strategy", "method", "bits"])
    figures = table.drop_duplicates(["paper_source", "bits", "paper_run", "model"])
    return (
        f"{dataset} matches {dataset_key}: {len(cells)} cells compared with {len(figures)} reference figures "
        f"from {table['paper_source'].nunique()} file versions ({len(table)} comparisons)"
    )


def reference_vs_bits(
    sns, study_summary: pd.DataFrame, comparison: pd.DataFrame, reference: pd.DataFrame, dataset_key: str | None
):
    """Clean accuracy against bit width, one panel per classifier with a reference figure: the
    paper's files dashed with markers (grey, one per file/version), ours per recipe and strategy
    (colour shade per recipe, line style per strategy) with its 95 % CI band, our FP32 dotted."""
    if comparison.empty:
        dataset = study_summary["dataset"].iloc[0] if len(study_summary) else "this dataset"
        return _empty(textwrap.fill(comparison_note(dataset, dataset_key, comparison, reference), 70))
    clean = _percent(_clean(study_summary), ["accuracy_mean", "accuracy_ci_low", "accuracy_ci_high"])
    figures = _percent(_figures(reference, dataset_key), ["accuracy"])
    strategies = sorted(clean.loc[clean["strategy"] != FP32, "strategy"].unique())
    several_methods = clean.loc[clean["strategy"] != FP32, "method"].nunique() > 1
    colors = model_colors(clean)
    models = sorted(comparison["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5.6 * len(models), 5.0), squeeze=False, sharey=True)
    for ax, model in zip(axes.flat, models):
        _paper_lines(ax, figures[figures["model"] == model])
        ours = clean[(clean["model"] == model) & (clean["strategy"] != FP32)]
        recipes = sorted(ours["recipe"].unique(), key=lambda r: (r not in set(comparison["recipe"]), r))
        shades = dict(zip(recipes, sns.dark_palette(colors[model], len(recipes) + 1, reverse=True)))
        for (recipe, strategy, method), line in ours.groupby(["recipe", "strategy", "method"]):
            line = line.sort_values("bits")
            label = f"ours: {recipe}, {strategy}" + (f", {method}" if several_methods else "")
            style = OUR_STYLES[strategies.index(strategy) % len(OUR_STYLES)]
            ax.plot(line["bits"], line["accuracy_mean"], color=shades[recipe], linestyle=style, marker=".", label=label)
            if line["accuracy_ci_low"].notna().any():
                ax.fill_between(
                    line["bits"], line["accuracy_ci_low"], line["accuracy_ci_high"], color=shades[recipe], alpha=0.15
                )
        mark_flagged({model: ax}, ours, "bits", "accuracy_mean", "model", ["recipe", "strategy", "method"])
        fp32 = clean.loc[(clean["model"] == model) & (clean["strategy"] == FP32), "accuracy_mean"]
        if not fp32.empty:
            ax.axhline(fp32.mean(), color=colors[model], linestyle=":", linewidth=1.2, label="ours: FP32")
        ax.set_xticks(sorted(set(ours["bits"]) | set(figures["bits"])))
        ax.invert_xaxis()
        ax.set(title=model, xlabel="bit width N", ylabel="clean test accuracy (%)")
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.suptitle(f"Against the authors' figures ({dataset_key}; dashed: paper, dotted: our FP32)", y=1.02)
    fig.tight_layout()
    return fig


def _paper_lines(ax, figures: pd.DataFrame) -> None:
    """One dashed line per reference file/version; every run is marked, and where a file holds
    several runs at one bit width the line passes through their mean."""
    sources = list(dict.fromkeys(figures["source"]))  # in the CSV's order (there: the file as it stands first)
    greys = plt.get_cmap("Greys")(np.linspace(0.95, 0.6, max(len(sources), 1)))
    for i, (source, rows) in enumerate(figures.groupby("source", sort=False)):
        mean = rows.groupby("bits")["accuracy"].mean().sort_index()
        marker = PAPER_MARKERS[i % len(PAPER_MARKERS)]
        ax.plot(mean.index, mean.values, color=greys[i], linestyle="--", linewidth=1)
        ax.scatter(rows["bits"], rows["accuracy"], color=greys[i], marker=marker, s=22, zorder=4)
        label = f"paper: {source} (calibration {rows['calibration'].iloc[0]})"
        ax.plot([], [], color=greys[i], linestyle="--", linewidth=1, marker=marker, markersize=4, label=label)
