"""The study's figures, from the study and KS tables: PNG (for the report) and PDF (for papers).

One style throughout: colour = classifier, line style = calibration strategy, FP32 in grey or
as its own panel. Error bands are 95 % Student-t intervals of the mean over seeds (the same as
the summary table's; seaborn's `errorbar` takes the function); one seed, no band.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import ticker

from lstmptq.flags import joined
from lstmptq.grid import FP32, FP32_BITS
from lstmptq.io import atomic_path
from lstmptq.report.design_space import (
    bits_label,
    pareto_front,
    quantizer_means,
    sensitivity,
)
from lstmptq.report.tables import between_strategies, t_interval
from lstmptq.scheme import CLASSES

log = logging.getLogger(__name__)

MODEL_COLORS = {"discriminative": "#1f77b4", "generative": "#d62728"}
OTHER_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")  # further families, in order


def model_colors(frame: pd.DataFrame) -> dict[str, str]:
    """Colour per classifier: the study's two fixed, any other family the next free colour."""
    others = sorted(set(frame["model"]) - set(MODEL_COLORS))
    return {**MODEL_COLORS, **{m: OTHER_COLORS[i % len(OTHER_COLORS)] for i, m in enumerate(others)}}


KS_THRESHOLD = 0.15  # the paper's distribution-shift signature


def setup():
    matplotlib.use("Agg")

    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)
    return sns


def save(figure, png: Path, pdf: Path) -> None:
    for path in (png, pdf):
        with atomic_path(path, checksum=False) as tmp:  # figures: no job reads them back
            figure.savefig(tmp, format=path.suffix[1:], dpi=150, bbox_inches="tight")


def write_figures(makers: dict, flagged_rows: pd.DataFrame, png_files: dict, pdf_files: dict) -> None:
    """Each figure named in `png_files` from its maker, with the flag footnote of `flagged_rows`,
    written as PNG and PDF (atomically) and closed."""
    for name, png in png_files.items():
        figure = makers[name]()
        flag_note(figure, flagged_rows)
        save(figure, Path(png), Path(pdf_files[name]))
        plt.close(figure)
        log.info("wrote %s and %s", png, pdf_files[name])


def _percent(frame: pd.DataFrame, columns) -> pd.DataFrame:
    return frame.assign(**{c: 100 * frame[c] for c in columns})


def _flagged(frame: pd.DataFrame) -> pd.Series:
    return frame["flags"].fillna("").ne("")


def mark_flagged(axes_by_panel: dict, data: pd.DataFrame, x: str, y: str, panel: str | None, series: list[str]) -> int:
    """Ring every plotted point (mean over seeds) that has a flagged cell in red; returns how many.
    (A ring, not a marker shape: seaborn's style markers already use x and the like.)"""
    flagged = data[_flagged(data)]
    marked = 0
    for key, group in flagged.groupby([*([panel] if panel else []), *series, x], sort=False):
        ax = axes_by_panel[key[0]] if panel else next(iter(axes_by_panel.values()))
        ax.scatter(
            [key[-1]],
            [group[y].mean()],
            marker="o",
            facecolors="none",
            edgecolors="red",
            s=110,
            linewidths=1.3,
            zorder=10,
        )
        marked += 1
    return marked


def flag_note(figure, study: pd.DataFrame) -> None:
    """A footnote naming the flags of the dataset's cells (src/lstmptq/flags.py), if any."""
    codes = study.loc[_flagged(study), "flags"].str.split(";").explode().value_counts()
    if codes.empty:
        return
    listed = ", ".join(f"{code} ({n} of {len(study)} rows)" for code, n in codes.items())
    figure.text(
        0.01,
        -0.02,
        f"red ring or frame = flagged cell, not sound: {listed}",
        fontsize=7,
        ha="left",
        va="top",
        color="firebrick",
        wrap=True,
    )


def _finish(grid, xlabel: str, ylabel: str, titles: str, title: str):
    """Labels of a seaborn FacetGrid; returns its figure."""
    grid.set_axis_labels(xlabel, ylabel)
    grid.set_titles(titles)
    grid.figure.suptitle(title, y=1.03)
    return grid.figure


def recipe_panels(frame: pd.DataFrame) -> pd.DataFrame:
    """`panel`: a quantized row's recipe, and its PTQ method where the grid has several."""
    several = frame.loc[frame["method"] != FP32, "method"].nunique() > 1
    return frame.assign(panel=frame["recipe"] + (", " + frame["method"] if several else ""))


def accuracy_vs_bits(sns, study):
    clean = _percent(study[study["eps"] == 0], ["accuracy"])
    quantized = recipe_panels(clean[clean["strategy"] != FP32])
    grid = sns.relplot(
        data=quantized, x="bits", y="accuracy", hue="model", style="strategy", col="panel",
        col_wrap=min(3, quantized["panel"].nunique()), kind="line", palette=model_colors(clean), markers=True,
        errorbar=t_interval, height=3.4, aspect=1.2,
    )  # fmt: skip
    mark_flagged(grid.axes_dict, quantized, "bits", "accuracy", "panel", ["model", "strategy"])
    fp32 = clean[clean["strategy"] == FP32].groupby("model")["accuracy"].mean()
    for ax in grid.axes.flat:
        for model, accuracy in fp32.items():
            ax.axhline(accuracy, color=model_colors(clean)[model], linestyle=":", linewidth=1.2)
        ax.invert_xaxis()
    return _finish(
        grid,
        "bit width N (what it covers: the recipe's)",
        "clean test accuracy (%)",
        "{col_name}",
        "Accuracy after PTQ by recipe (dotted: FP32)",
    )


def drop_vs_bits(sns, study):
    clean = _percent(study[(study["eps"] == 0) & (study["strategy"] != FP32)], ["drop_vs_fp32"])
    clean = clean.assign(panel=clean["model"] + ", " + clean["recipe"])
    grid = sns.relplot(
        data=clean, x="bits", y="drop_vs_fp32", hue="strategy", style="method", col="panel",
        col_wrap=min(3, clean["panel"].nunique()), kind="line", markers=True, errorbar=t_interval, height=3.2,
        aspect=1.1, facet_kws={"sharey": True},
    )  # fmt: skip
    mark_flagged(grid.axes_dict, clean, "bits", "drop_vs_fp32", "panel", ["strategy", "method"])
    for ax in grid.axes.flat:
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.invert_xaxis()
    return _finish(
        grid, "bit width", "accuracy drop vs FP32 (points)", "{col_name}", "Accuracy drop by calibration strategy"
    )


def accuracy_vs_eps(sns, study):
    data = recipe_panels(_percent(study, ["accuracy"]))
    data["panel"] = [
        "FP32" if bits == FP32_BITS else f"{panel}, {bits} bits" for panel, bits in zip(data["panel"], data["bits"])
    ]
    quantized = data[data["bits"] != FP32_BITS].sort_values(["recipe", "method", "bits"], ascending=[True, True, False])
    order = ["FP32", *quantized["panel"].unique()]
    if data["noise"].nunique() > 1:  # one row of panels per noise model
        data["panel"] = data["noise"] + ": " + data["panel"]
        order = [f"{noise}: {panel}" for noise in sorted(data["noise"].unique()) for panel in order]
    grid = sns.relplot(
        data=data, x="eps", y="accuracy", hue="model", style="strategy",
        col="panel", col_order=order, col_wrap=min(4, len(order)),
        kind="line", palette=model_colors(data), markers=True, errorbar=t_interval, height=2.8, aspect=1.1,
    )  # fmt: skip
    mark_flagged(grid.axes_dict, data, "eps", "accuracy", "panel", ["model", "strategy"])
    return _finish(grid, "noise level eps", "test accuracy (%)", "{col_name}", "Accuracy under noise")


def accuracy_heatmap(sns, study):
    data = _percent(study[study["strategy"] != FP32], ["accuracy"])
    panels = list(data.groupby(["model", "recipe", "strategy", "method", "noise"]))
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 3.2 * nrows), squeeze=False)
    for ax, ((model, recipe, strategy, method, noise), group) in zip(axes.flat, panels):
        matrix = group.pivot_table(index="bits", columns="eps", values="accuracy", aggfunc="mean").sort_index(
            ascending=False
        )
        sns.heatmap(
            matrix,
            ax=ax,
            vmin=0,
            vmax=100,
            cmap="viridis",
            annot=True,
            fmt=".0f",
            annot_kws={"fontsize": 7},
            cbar_kws={"label": "accuracy (%)"},
        )
        flagged = group[_flagged(group)]
        for bits, eps in set(zip(flagged["bits"], flagged["eps"])):  # a red frame around each flagged cell
            ax.add_patch(
                plt.Rectangle(
                    (list(matrix.columns).index(eps), list(matrix.index).index(bits)),
                    1,
                    1,
                    fill=False,
                    edgecolor="red",
                    linewidth=1.3,
                )
            )
        title = (
            f"{model}, {recipe}, {strategy}"
            + (f", {method}" if data["method"].nunique() > 1 else "")
            + (f", {noise}" if data["noise"].nunique() > 1 else "")
        )
        ax.set(title=title, xlabel="eps", ylabel="bits")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def ks_vs_bits(sns, ks):
    groups = {
        "weights, FP32 vs quantized": ks["comparison"].eq("fp32_vs_quantized")
        & ks["tensor"].isin(["embedding", "lstm", "classifier", "decoder", "label_embedding"]),
        "activations, FP32 vs quantized": ks["comparison"].eq("fp32_vs_quantized")
        & ks["tensor"].isin(["embedding_output", "lstm_hidden", "final_layer_input", "scores"]),
        "activations, balanced vs random": between_strategies(ks),
    }
    data = pd.concat([ks[mask].assign(panel=name) for name, mask in groups.items()], ignore_index=True)
    # one value per seed (FP32 vs quantized: mean over calibration strategies), so bands span seeds
    data = data.groupby(["panel", "recipe", "model", "tensor", "bits", "seed"], as_index=False, sort=False)["ks"].mean()
    grid = sns.relplot(
        data=data, x="bits", y="ks", hue="tensor", style="model", row="panel", col="recipe", kind="line",
        markers=True, errorbar=t_interval, height=2.6, aspect=1.8, facet_kws={"sharey": True},
    )  # fmt: skip
    for ax in grid.axes.flat:
        ax.axhline(KS_THRESHOLD, color="black", linestyle="--", linewidth=1)
        ax.invert_xaxis()
    return _finish(
        grid, "bit width", "KS statistic", "{row_name}, {col_name}", f"Distribution shift (dashed: KS = {KS_THRESHOLD})"
    )


def size_vs_accuracy(sns, study):
    clean = _percent(study[study["eps"] == 0], ["accuracy"]).assign(size_kib=lambda f: f["size_bits"] / 8 / 1024)
    cell = ["model", "recipe", "strategy", "method", "bits"]
    mean = clean.groupby(cell, as_index=False)[["size_kib", "accuracy"]].mean()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sns.scatterplot(
        data=mean, x="size_kib", y="accuracy", hue="model", style="recipe", palette=model_colors(mean), s=60, ax=ax
    )
    mark_flagged({None: ax}, clean, "size_kib", "accuracy", None, cell)
    for row in mean[mean["strategy"].isin([FP32, mean["strategy"].iloc[0]])].itertuples():
        ax.annotate(
            "FP32" if row.bits == FP32_BITS else f"{row.bits}b",
            (row.size_kib, row.accuracy),
            textcoords="offset points",
            xytext=(4, 3),
            fontsize=7,
        )
    ax.set(
        xscale="log",
        xlabel="model size (KiB, counted bits)",
        ylabel="clean test accuracy (%)",
        title="The compression trade-off",
    )
    return fig


# ---- the design-space sweep (grid.DESIGN_SPACE_PLOTS), from lstmptq.report.design_space's tables ----

LABELLED = 4  # the design-space Pareto plot names this many cheapest schemes (and the front's)


def _empty(message: str):
    """A figure that says why there is nothing to plot (the rule's outputs are fixed)."""
    fig, ax = plt.subplots(figsize=(6, 1.5))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10)
    ax.set_axis_off()
    return fig


def _scheme_means(cells: pd.DataFrame) -> pd.DataFrame:
    """Per classifier, method and scheme: accuracy (%), FP32 accuracy (%) and costs over seeds."""
    data = _percent(cells, ["accuracy", "fp32_accuracy"]).assign(flags=lambda f: f["flags"].fillna(""))
    grouped = data.groupby(["model", "method", "scheme"], as_index=False, sort=True)
    mean = grouped.agg(
        accuracy=("accuracy", "mean"), fp32_accuracy=("fp32_accuracy", "mean"),
        activation_bits_per_token=("activation_bits_per_token", "mean"),
        size_bits=("size_bits", "mean"), weight_bits=("weight_bits", "first"),
        flags=("flags", lambda f: joined(c for t in f for c in t.split(";") if c)),
    )  # fmt: skip  # flags: any seed's
    return mean.assign(weights=lambda f: f["weight_bits"].map(bits_label))


def design_space_pareto(sns, cells):
    """Accuracy against the activation bits a scheme produces per token, one panel per classifier:
    the Pareto front as a step line, FP32 dotted, the cheapest schemes named."""
    mean = _scheme_means(cells)
    order = [bits_label(b) for b in sorted(mean["weight_bits"].unique(), reverse=True)]
    palette = dict(zip(order, sns.color_palette("viridis", len(order))))
    models = sorted(mean["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(5.4 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes.flat, models):
        group = mean[mean["model"] == model]
        sns.scatterplot(
            data=group, x="activation_bits_per_token", y="accuracy", hue="weights", hue_order=order, style="method",
            palette=palette, s=55, ax=ax, legend=model == models[-1], zorder=3,
        )  # fmt: skip
        front = pareto_front(group, "activation_bits_per_token", "accuracy")
        ax.step(
            front["activation_bits_per_token"], front["accuracy"], where="post", color="black", linewidth=1, zorder=2
        )
        ax.axhline(group["fp32_accuracy"].mean(), color="grey", linestyle=":", linewidth=1.2)
        mark_flagged({model: ax}, group, "activation_bits_per_token", "accuracy", "model", ["method", "scheme"])
        named = pd.concat([group.nsmallest(LABELLED, "activation_bits_per_token"), front]).drop_duplicates(
            ["method", "scheme"]
        )
        for (x, y), same in named.groupby(["activation_bits_per_token", "accuracy"]):  # one label per spot
            ax.annotate(
                ", ".join(sorted(set(same["scheme"]))), (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7
            )
        ax.set(xscale="log", title=model, xlabel="activation bits per token (log)", ylabel="test accuracy (%)")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    sns.move_legend(axes.flat[len(models) - 1], "upper left", bbox_to_anchor=(1.02, 1), title=None)
    fig.suptitle("Design space: accuracy vs activation bits (step line: Pareto front, dotted: FP32)", y=1.02)
    return fig


def design_space_sensitivity(sns, cells):
    """Accuracy with one quantizer class alone at low bits, one group of bars per setting of the
    rest, per classifier (dotted: FP32; dashed: the rest's own uniform scheme, where it was run)."""
    swept = sensitivity(_percent(cells, ["accuracy", "fp32_accuracy"]))
    if swept.empty:
        return _empty("no sensitivity sweep in this design space (design_space.sensitivity.bits is empty)")
    swept["alone at"] = swept["alone_bits"].map(lambda b: f"{b} bits")
    swept["rest"] = swept["rest_bits"].map(lambda b: "rest float" if pd.isna(b) else f"rest at {b} bits")
    if swept["method"].nunique() > 1:
        swept["rest"] = swept["rest"] + ", " + swept["method"]
    classes = [c for c in CLASSES.values() if c in set(swept["class"])]
    hue_order = [f"{b} bits" for b in sorted(swept["alone_bits"].unique())]
    rests = swept.sort_values("rest_bits", ascending=False, na_position="last")[
        "rest"
    ].unique()  # widest rest first, float last
    grid = sns.catplot(
        data=swept, x="class", y="accuracy", hue="alone at", hue_order=hue_order,
        col="rest", col_order=list(rests), row="model", order=classes,
        kind="bar", errorbar=t_interval, height=3.0, aspect=1.6, sharey=True,
    )  # fmt: skip
    everything = _percent(cells, ["accuracy", "fp32_accuracy"])
    for (model, rest), ax in grid.axes_dict.items():
        here = swept[(swept["model"] == model) & (swept["rest"] == rest)]
        ax.axhline(
            everything.loc[everything["model"] == model, "fp32_accuracy"].mean(),
            color="grey",
            linestyle=":",
            linewidth=1.2,
        )
        if not here.empty and not pd.isna(here["rest_bits"].iloc[0]):
            own = everything[
                (everything["model"] == model)
                & (everything["method"] == here["method"].iloc[0])
                & (everything["scheme"] == f"w{here['rest_bits'].iloc[0]}")
            ]
            if not own.empty:
                ax.axhline(own["accuracy"].mean(), color="black", linestyle="--", linewidth=1)
        ax.tick_params(axis="x", labelrotation=30)
    return _finish(
        grid,
        "quantizer class alone at low bits",
        "test accuracy (%)",
        "{row_name}, {col_name}",
        "Sensitivity: one class at a time",
    )


def design_space_sqnr(sns, quantizers, cells):
    """Per classifier (and method): end-to-end SQNR (dB, vs the FP32 model; colour and first line)
    and the share rounded to zero (%, second line) per quantization point (rows, forward order) x
    scheme (columns, most activation bits first); `*`: a seed's first collapsed point; red frame:
    a scheme with a flagged cell."""
    means = quantizer_means(quantizers).assign(sqnr=lambda f: f["sqnr_db"].replace([np.inf, -np.inf], np.nan))
    cost = cells.groupby(["model", "method", "scheme"])["activation_bits_per_token"].mean()
    hit = quantizers[quantizers["collapsed"].astype(bool)]
    collapsed = set(hit[["model", "method", "scheme", "quantizer"]].itertuples(index=False, name=None))
    flagged = set(cells.loc[_flagged(cells), ["model", "method", "scheme"]].itertuples(index=False, name=None))
    panels = list(means.groupby(["model", "method"], sort=True))
    shapes = [(group["scheme"].nunique(), group["quantizer"].nunique()) for _, group in panels]
    heights = [0.9 + 0.5 * rows for _, rows in shapes]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(3 + 0.6 * max(n for n, _ in shapes), sum(heights) + 0.4 * len(panels)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, ((model, method), group) in zip(axes.flat, panels):
        columns = sorted(group["scheme"].unique(), key=lambda name: (-cost.get((model, method, name), 0), name))
        rows = list(group.groupby("quantizer")["position"].min().sort_values().index)
        sqnr = group.pivot_table(
            index="quantizer", columns="scheme", values="sqnr", aggfunc="mean", dropna=False
        ).reindex(index=rows, columns=columns)
        zero = group.pivot_table(
            index="quantizer", columns="scheme", values="zero_share", aggfunc="mean", dropna=False
        ).reindex(index=rows, columns=columns)
        text = [
            [_sqnr_text(sqnr.loc[q, s], zero.loc[q, s], (model, method, s, q) in collapsed) for s in columns]
            for q in rows
        ]
        sns.heatmap(
            sqnr,
            ax=ax,
            vmin=0,
            vmax=40,
            cmap="viridis",
            annot=np.array(text),
            fmt="",
            annot_kws={"fontsize": 6},
            cbar_kws={"label": "SQNR (dB)"},
        )
        for name in columns:
            if (
                model,
                method,
                name,
            ) in flagged:  # a red frame around the column, as the study's heatmap frames a flagged cell
                ax.add_patch(
                    plt.Rectangle((columns.index(name), 0), 1, len(rows), fill=False, edgecolor="red", linewidth=1.5)
                )
        title = model + (f", {method}" if means["method"].nunique() > 1 else "")
        ax.set(title=f"{title}: SQNR vs FP32 (dB) / rounded to zero (%)", xlabel="scheme", ylabel="")
    fig.tight_layout()
    return fig


def _sqnr_text(sqnr: float, zero: float, collapsed: bool) -> str:
    top = "" if pd.isna(sqnr) else f"{sqnr:.0f}"
    bottom = "" if pd.isna(zero) else f"{100 * zero:.0f}%"
    return f"{top}{'*' if collapsed else ''}\n{bottom}"
