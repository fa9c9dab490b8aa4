"""The design-space sweep in tables: what each quantization scheme costs and keeps, where its
signal dies, and the sweep's questions answered. Built from PTQ cells' metrics (the sweep's, and
the study's own of the same strategy and methods, so the uniform w4 and w3 it is measured
against are in). Pandas only: the job reads JSON.

Tables:

- `cell_table`: one row per cell (classifier x seed x strategy x method x scheme): the scheme's
  bits per quantizer class, accuracy, size, activation bits per token, the first collapsed
  quantizer, the engine check and flags;
- `quantizer_table`: one row per quantization point of each cell (its diagnostics, forward order);
- `answers`: means over seeds, one block per classifier (and strategy), long and tidy: one row
  per answer, `question` naming it, `verdict` and `detail` saying it in words.

The questions:

- `cheapest_w4_within_1pt` (`cheapest_w3_within_3pt`): among the schemes with 4-bit (3-bit)
  weights whose mean accuracy is at most 1 (3) points below the mean FP32 accuracy, the one that
  produces the fewest activation bits per token (ties: fewer counted model bits, then the more
  accurate); if none is,
  the most accurate of them, `not reached`, with its gap;
- `collapse`: at the lowest uniform scheme present (w3), the first quantizer in forward order
  whose own SQNR is below `collapse_sqnr_db`, on the quantizers' means over seeds;
- `single_change_fixes`: every scheme one change away from that uniform scheme (`scheme.changes`:
  one token, the weight bits kept; w4 or w4r from w3 is not one), same method: its gain over it, whether a
  quantizer still collapses, the best one marked;
- `gpfq_lstm_vs_gpfq`: GPFQ on the LSTM and the final layer vs on the final layer only, at 4 and
  3 weight bits, for every scheme run with both (the uniform ones included).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from lstmptq import scheme as schemes
from lstmptq.flags import joined
from lstmptq.grid import FP32_BITS

KEYS = ["model", "seed", "strategy", "method", "scheme"]  # one PTQ cell
GROUP = ["model", "strategy", "method", "scheme"]  # a scheme's cells, seeds aside
TARGETS = {
    "cheapest_w4_within_1pt": (4, 0.01),
    "cheapest_w3_within_3pt": (3, 0.03),
}  # question: (weight bits, accuracy below FP32)
COMPARED = ("gpfq_lstm", "gpfq")  # gpfq_lstm_vs_gpfq: the method and what it is compared with
COMPARED_BITS = (4, 3)
TIE = 1e-9  # accuracies are k / n_documents: a mean 1 point below FP32 must count as within 1 point
ANSWER_COLUMNS = [
    "model", "strategy", "question", "scheme", "method", "n_seeds", "accuracy", "fp32_accuracy", "gap_to_fp32",
    "activation_bits_per_token", "size_bits", "reference_scheme", "reference_method", "reference_accuracy", "gain",
    "quantizer", "zero_share", "local_sqnr_db", "sqnr_db", "collapses", "best", "verdict", "detail", "flags",
]  # fmt: skip


def first_collapsed(quantizers: list[dict[str, Any]], threshold_db: float) -> dict[str, Any] | None:
    """The first quantization point (forward order) whose own SQNR (`local_sqnr_db`) is below
    `threshold_db`, or None; a point no signal reaches (nan) is skipped: it is downstream of one."""
    return next((row for row in quantizers if row["local_sqnr_db"] < threshold_db), None)


def class_column(name: str) -> str:
    """A quantizer class as a column name: `sigmoid/tanh outputs` -> `sigmoid_tanh_outputs`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _keys(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": metrics["config"]["kind"],
        "seed": metrics["config"]["seed"],
        "strategy": metrics["strategy"],
        "method": metrics["method"],
        "scheme": metrics["scheme"],
    }


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """Classifier, strategy, method, then the widest weights first, each scheme's seeds together."""
    order = [c for c in ["model", "strategy", "method", "weight_bits", "scheme", "seed", "position"] if c in table]
    return table.sort_values(order, ascending=[c != "weight_bits" for c in order], ignore_index=True)


def cell_table(metrics: list[dict[str, Any]], collapse_sqnr_db: float) -> pd.DataFrame:
    """One row per PTQ cell: its scheme per quantizer class, accuracy, size, activation bits per
    token, first collapsed quantizer (below `collapse_sqnr_db` of own SQNR), engine check, flags."""
    rows = []
    for m in metrics:
        collapsed = first_collapsed(m["diagnostics"]["quantizers"], collapse_sqnr_db) or {}
        check = m.get("engine_check") or {}
        rows.append({
            **_keys(m), "base_method": m["base_method"], "weight_bits": m["bits"],
            **{class_column(name): text for name, text in m["classes"].items()},
            **{k: m[k]
               for k in ["accuracy", "fp32_accuracy", "accuracy_drop", "size_bits", "activation_bits_per_token"]},
            "collapsed_quantizer": collapsed.get("quantizer"),
            **{f"collapsed_{k}": collapsed.get(k, np.nan) for k in ["zero_share", "local_sqnr_db", "sqnr_db"]},
            **{f"engine_{k}": check.get(k)
               for k in ["within_tolerance", "max_abs_score_difference", "prediction_agreement"]},
            "flags": joined(m["flags"]),
        })  # fmt: skip
    return _sorted(pd.DataFrame(rows))


def quantizer_table(metrics: list[dict[str, Any]], collapse_sqnr_db: float) -> pd.DataFrame:
    """One row per quantization point of each cell, in forward order (`position`): its diagnostics
    (lstmptq.quant.diagnostics) and whether it is the cell's first collapsed point."""
    rows = []
    for m in metrics:
        quantizers = m["diagnostics"]["quantizers"]
        collapsed = first_collapsed(quantizers, collapse_sqnr_db)
        for position, point in enumerate(quantizers):
            rows.append(
                {**_keys(m), "weight_bits": m["bits"], "position": position, **point, "collapsed": point is collapsed}
            )
    return _sorted(pd.DataFrame(rows).astype({"bits": "Int64"}))


def scheme_means(cells: pd.DataFrame) -> pd.DataFrame:
    """Per scheme (classifier x strategy x method x scheme): means over seeds, how many seeds, how
    many of them have a collapsed quantizer, and every seed's flags."""
    grouped = cells.groupby(GROUP, sort=True)
    means = grouped[["accuracy", "fp32_accuracy", "size_bits", "activation_bits_per_token"]].mean()
    means["weight_bits"] = grouped["weight_bits"].first()
    means["n_seeds"] = grouped["seed"].nunique()
    means["seeds_collapsed"] = grouped["collapsed_quantizer"].count()
    means["flags"] = grouped["flags"].agg(
        lambda f: joined(code for text in f.fillna("") for code in text.split(";") if code)
    )
    return means.reset_index()


def quantizer_means(quantizers: pd.DataFrame) -> pd.DataFrame:
    """Per scheme and quantization point: the diagnostics' means over seeds, in forward order."""
    grouped = quantizers.groupby([*GROUP, "quantizer"], sort=False)
    means = grouped[["position", "zero_share", "clipped_share", "sqnr_db", "local_sqnr_db", "values_per_token"]].mean()
    means["bits"] = grouped["bits"].first()
    return means.reset_index().sort_values([*GROUP, "position"], ignore_index=True)


def pareto_front(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The rows no other row beats (less or equal `x` and more `y`), by ascending `x`: the step
    line of a cost (x) vs accuracy (y) plot."""
    ordered = frame.sort_values([x, y], ascending=[True, False])
    best = ordered[y].cummax().shift(fill_value=-np.inf)
    return ordered[ordered[y] > best]


def sensitivity(cells: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity sweep's cells: each with `class` (the one quantizer class at low bits),
    `alone_bits` (its bits) and `rest_bits` (the others'; None: float), where that class is at
    fewer bits than the rest or the rest is float."""
    rows = []
    for name in cells["scheme"].unique():
        found = schemes.sensitivity_of(name)
        if found and found[1] is not None and (found[2] is None or found[1] < found[2]):
            rows.append(
                {"scheme": name, "class": schemes.CLASSES[found[0]], "alone_bits": found[1], "rest_bits": found[2]}
            )
    found = pd.DataFrame(rows, columns=["scheme", "class", "alone_bits", "rest_bits"])
    return cells.merge(found, on="scheme", how="inner").astype({"alone_bits": int, "rest_bits": "Int64"})


# ---- the answers ---------------------------------------------------------------------------


def _cost(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort keys that order schemes by cost: activation bits per token, then model bits (rounded,
    so the same bits averaged over seeds compare equal), then name for a stable order."""
    return frame.assign(_activation=frame["activation_bits_per_token"].round(6), _size=frame["size_bits"].round(3))


def _cheapest(frame: pd.DataFrame) -> pd.Series:
    return (
        _cost(frame)
        .sort_values(
            ["_activation", "_size", "accuracy", "scheme", "method"], ascending=[True, True, False, True, True]
        )
        .iloc[0]
    )


def _most_accurate(frame: pd.DataFrame) -> pd.Series:
    ordered = _cost(frame).sort_values(
        ["accuracy", "_activation", "_size", "scheme", "method"], ascending=[False, True, True, True, True]
    )
    return ordered.iloc[0]


def _answer(row: pd.Series, **more: Any) -> dict[str, Any]:
    """The columns every answer about one scheme's cells carries, plus `more`."""
    keys = [
        "scheme",
        "method",
        "n_seeds",
        "accuracy",
        "fp32_accuracy",
        "activation_bits_per_token",
        "size_bits",
        "flags",
    ]
    return {**{k: row[k] for k in keys}, "gap_to_fp32": row["accuracy"] - row["fp32_accuracy"], **more}


def _points(points: pd.DataFrame, row: pd.Series) -> list[dict[str, Any]]:
    mask = np.logical_and.reduce([points[k] == row[k] for k in GROUP])
    return points[mask].to_dict("records")


def _collapse(points: pd.DataFrame, row: pd.Series, collapse_sqnr_db: float) -> dict[str, Any]:
    """The first collapsed quantizer of a scheme's seed-mean diagnostics: its columns of an answer."""
    hit = first_collapsed(_points(points, row), collapse_sqnr_db)
    if hit is None:
        return {"collapses": False}
    return {
        "collapses": True,
        "quantizer": hit["quantizer"],
        **{k: hit[k] for k in ["zero_share", "local_sqnr_db", "sqnr_db"]},
    }


def cheapest_within(block: pd.DataFrame, bits: int, below: float) -> list[dict[str, Any]]:
    """The scheme with `bits`-bit weights within `below` of FP32 accuracy producing the fewest
    activation bits per token (ties: fewer model bits), or the most accurate one, `not reached`."""
    candidates = block[block["weight_bits"] == bits]
    if candidates.empty:
        return [{"verdict": "no cells", "detail": f"no scheme with {bits}-bit weights was run"}]
    within = candidates[candidates["accuracy"] >= candidates["fp32_accuracy"] - below - TIE]
    points = f"{100 * below:g} point" + ("" if round(100 * below, 9) == 1 else "s")
    if within.empty:
        best = _most_accurate(candidates)
        detail = (
            f"none of {len(candidates)} schemes with {bits}-bit weights is within {points} of FP32; "
            f"the most accurate is {100 * (best['fp32_accuracy'] - best['accuracy']):.2f} points below"
        )
        return [_answer(best, verdict="not reached", detail=detail)]
    best = _cheapest(within)
    detail = (
        f"{len(within)} of {len(candidates)} schemes with {bits}-bit weights are within {points} of FP32; "
        "this one produces the fewest activation bits per token"
    )
    return [_answer(best, verdict="reached", detail=detail)]


def lowest_uniform(block: pd.DataFrame) -> pd.DataFrame:
    """The block's schemes at the lowest uniform bit width present (e.g. w3), one per method."""
    uniform = block[block["scheme"].map(lambda name: schemes.parse(name).uniform)]
    return uniform[uniform["weight_bits"] == uniform["weight_bits"].min()].sort_values("method")


def collapse(block: pd.DataFrame, points: pd.DataFrame, collapse_sqnr_db: float) -> list[dict[str, Any]]:
    """At the lowest uniform scheme, per method: the first quantizer whose own SQNR (mean over
    seeds) is below `collapse_sqnr_db`, or none."""
    rows = []
    for _, reference in lowest_uniform(block).iterrows():
        found = _collapse(points, reference, collapse_sqnr_db)
        seeds = (
            f"{reference['seeds_collapsed']} of {reference['n_seeds']} seeds have a collapsed quantizer of their own"
        )
        if found["collapses"]:
            detail = (
                f"{found['quantizer']} is the first point whose own SQNR (mean over seeds) "
                f"is below {collapse_sqnr_db:g} dB; {seeds}"
            )
        else:
            detail = f"no point's own SQNR (mean over seeds) is below {collapse_sqnr_db:g} dB; {seeds}"
        rows.append(_answer(reference, **found, verdict="collapsed" if found["collapses"] else "none", detail=detail))
    return rows or [{"verdict": "no cells", "detail": "no uniform scheme (w<bits>) was run"}]


def _one_change(name: str, uniform: str) -> bool:
    """One change away from the uniform scheme (scheme.changes: other weight bits are not one)."""
    return schemes.changes(name, uniform) == 1


def single_change_fixes(block: pd.DataFrame, points: pd.DataFrame, collapse_sqnr_db: float) -> list[dict[str, Any]]:
    """Every scheme one change away from the lowest uniform scheme (same method): its gain over
    it and whether a quantizer still collapses; `best` marks the largest gain (ties: cheaper)."""
    rows = []
    for _, reference in lowest_uniform(block).iterrows():
        uniform, method = reference["scheme"], reference["method"]
        fixes = block[
            (block["method"] == method) & block["scheme"].map(lambda name, base=uniform: _one_change(name, base))
        ]
        if fixes.empty:
            rows.append(
                {
                    "method": method,
                    "reference_scheme": uniform,
                    "verdict": "no cells",
                    "detail": f"no scheme one change away from {uniform} was run with {method}",
                }
            )
            continue
        fixes = _cost(fixes.assign(gain=fixes["accuracy"] - reference["accuracy"]))
        best = fixes.sort_values(["gain", "_activation", "_size", "scheme"], ascending=[False, True, True, True]).index[
            0
        ]
        for index, fix in fixes.sort_values("scheme").iterrows():
            verdict = "helps" if fix["gain"] > TIE else "hurts" if fix["gain"] < -TIE else "no change"
            found = _collapse(points, fix, collapse_sqnr_db)
            detail = f"{fix['scheme']} vs {uniform}: {100 * fix['gain']:+.2f} points; " + (
                f"{found['quantizer']} still collapses" if found["collapses"] else "no quantizer collapses"
            )
            rows.append(_answer(
                fix, reference_scheme=uniform, reference_method=method, reference_accuracy=reference["accuracy"],
                gain=fix["gain"], **found, best=index == best, verdict=verdict, detail=detail,
            ))  # fmt: skip
    return rows or [{"verdict": "no cells", "detail": "no uniform scheme (w<bits>) was run"}]


def gpfq_lstm_vs_gpfq(block: pd.DataFrame) -> list[dict[str, Any]]:
    """At 4 and 3 weight bits, every scheme run with both gpfq_lstm and gpfq: the accuracy of
    each and the difference."""
    ours, theirs = COMPARED
    rows = []
    for bits in COMPARED_BITS:
        at = block[block["weight_bits"] == bits]
        mine, other = at[at["method"] == ours].set_index("scheme"), at[at["method"] == theirs].set_index("scheme")
        both = sorted(set(mine.index) & set(other.index), key=lambda name: (not schemes.parse(name).uniform, name))
        if not both:
            rows.append(
                {
                    "method": ours,
                    "reference_method": theirs,
                    "verdict": "no cells",
                    "detail": f"no scheme with {bits}-bit weights was run with both {ours} and {theirs}",
                }
            )
        for name in both:
            row, reference = mine.loc[name].copy(), other.loc[name]
            row["scheme"] = name
            gain = row["accuracy"] - reference["accuracy"]
            verdict = f"{ours} better" if gain > TIE else f"{theirs} better" if gain < -TIE else "equal"
            detail = (
                f"{name}: {ours} {100 * row['accuracy']:.2f} % vs {theirs} {100 * reference['accuracy']:.2f} % "
                f"({100 * gain:+.2f} points)"
            )
            flags = joined(code for text in (row["flags"], reference["flags"]) for code in text.split(";") if code)
            rows.append(
                {
                    **_answer(
                        row,
                        reference_scheme=name,
                        reference_method=theirs,
                        reference_accuracy=reference["accuracy"],
                        gain=gain,
                        verdict=verdict,
                        detail=detail,
                    ),
                    "flags": flags,
                }
            )
    return rows


def answers(cells: pd.DataFrame, quantizers: pd.DataFrame, collapse_sqnr_db: float) -> pd.DataFrame:
    """The sweep's questions answered on the means over seeds, one block per classifier and
    strategy (module docstring); one row per answer."""
    means, points = scheme_means(cells), quantizer_means(quantizers)
    rows = []
    for (model, strategy), block in means.groupby(["model", "strategy"], sort=True):
        asked = {question: cheapest_within(block, bits, below) for question, (bits, below) in TARGETS.items()}
        asked["collapse"] = collapse(block, points, collapse_sqnr_db)
        asked["single_change_fixes"] = single_change_fixes(block, points, collapse_sqnr_db)
        asked["gpfq_lstm_vs_gpfq"] = gpfq_lstm_vs_gpfq(block)
        rows += [
            {"model": model, "strategy": strategy, "question": question, **row}
            for question, found in asked.items()
            for row in found
        ]
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS).astype({"n_seeds": "Int64"})


def bits_label(bits: int) -> str:
    """A weight bit width as the plots' legends spell it (FP32_BITS: float)."""
    return "float" if bits == FP32_BITS else f"{bits} bits"
