"""The study's four findings (shared notes, study.md), each tested on a dataset's study table,
separately for each quantization recipe (what "N bits" covers differs between recipes, and so
may the answer).

Each finding becomes one paired comparison per seed: a difference d between two cells that share
the seed (e.g. the discriminative minus the generative FP32 model's drop under the strongest
noise). Over seeds, d's mean and 95 % Student-t interval decide the verdict:

- a "greater" finding: supported when the interval lies above 0, not supported when it lies
  below 0, inconclusive when it contains 0;
- the "stable" finding (3): supported when the interval lies inside +-EQUIVALENCE_MARGIN, not
  supported when it lies wholly outside it, else inconclusive.

One seed gives no interval, so every verdict is inconclusive. The cells compared: the first
noise model, one PTQ method (the caller's, else the table's first), the highest eps (findings 1
and 4; the others at eps 0), and the `balanced` and `random` calibration strategies. Finding 1
reads FP32 cells only (one row, recipe `fp32`); findings 2a and 2b get one row per recipe and bit
width, since a model may collapse at some bit widths only; 3 and 4 one row per recipe, at its
lowest bit width. A finding whose cells the table lacks is `not measured`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmptq.grid import FP32, FP32_BITS
from lstmptq.report.tables import t_interval

EQUIVALENCE_MARGIN = 0.01  # accuracy (1 point): a difference inside it counts as "stable"
COLUMNS = ["architecture", "finding", "recipe", "bits", "statement", "comparison", "noise", "method", "eps"]
COLUMNS += ["n_seeds", "mean", "ci_low", "ci_high", "verdict"]


@dataclass(frozen=True)
class Finding:
    number: str
    statement: str
    comparison: str  # what d is, per seed
    kind: str  # "greater" or "equivalent"
    bits: str  # "fp32": FP32 cells only; "each": every bit width of a recipe; "lowest": a recipe's lowest
    noisy: bool  # compared at the highest eps (else at eps 0)


FINDINGS = (
    Finding("1", "Generative classifiers are more robust to input noise at full precision.",
            "FP32 drop vs eps 0 at the highest eps: discriminative minus generative", "greater", "fp32", True),
    Finding("2a", "Generative classifiers are more sensitive to low bit widths.",
            "drop vs FP32 at this bit width, eps 0 (mean over strategies): generative minus discriminative",
            "greater", "each", False),
    Finding("2b", "Class-balanced calibration helps generative classifiers at low bit widths.",
            "generative accuracy at this bit width, eps 0: balanced minus random calibration", "greater", "each",
            False),
    Finding("3", "Discriminative classifiers are stable across calibration strategies.",
            "discriminative accuracy at the recipe's lowest bit width, eps 0: balanced minus random calibration "
            f"(stable: within +-{EQUIVALENCE_MARGIN})",
            "equivalent", "lowest", False),
    Finding("4", "Quantized generative classifiers lose accuracy sharply under noise at low bit widths.",
            "generative drop vs eps 0 at the highest eps: the recipe's lowest bit width (mean over strategies) "
            "minus FP32",
            "greater", "lowest", True),
)  # fmt: skip


def verdict(kind: str, low: float, high: float) -> str:
    if np.isnan(low):
        return "inconclusive"
    if kind == "greater":
        return (
            "supported" if low > 0 else "not supported" if high <= 0 else "inconclusive"
        )  # an upper bound of 0 rules out the claimed gain
    if -EQUIVALENCE_MARGIN <= low and high <= EQUIVALENCE_MARGIN:
        return "supported"
    return "not supported" if low > EQUIVALENCE_MARGIN or high < -EQUIVALENCE_MARGIN else "inconclusive"


def measure(frame: pd.DataFrame, column: str, **where) -> pd.Series:
    """`column` per seed, over the rows matching `where` (mean over the rest, e.g. strategies)."""
    rows = frame
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return rows.groupby("seed")[column].mean()


def per_seed_difference(finding: Finding, fp32: pd.DataFrame, quantized: pd.DataFrame, bits, eps: float) -> pd.Series:
    """d per seed for `finding`, from FP32 cells and one recipe's cells at `bits` (of the method and
    noise compared); empty where the cells are missing."""
    gen, disc, at = {"model": "generative", "eps": eps}, {"model": "discriminative", "eps": eps}, {"bits": bits}
    balanced, random = {"strategy": "balanced"}, {"strategy": "random"}
    (frame_a, column_a, where_a), (frame_b, column_b, where_b) = {
        "1": ((fp32, "drop_vs_clean", disc), (fp32, "drop_vs_clean", gen)),
        "2a": ((quantized, "drop_vs_fp32", gen | at), (quantized, "drop_vs_fp32", disc | at)),
        "2b": ((quantized, "accuracy", gen | at | balanced), (quantized, "accuracy", gen | at | random)),
        "3": ((quantized, "accuracy", disc | at | balanced), (quantized, "accuracy", disc | at | random)),
        "4": ((quantized, "drop_vs_clean", gen | at), (fp32, "drop_vs_clean", gen)),
    }[finding.number]
    return (measure(frame_a, column_a, **where_a) - measure(frame_b, column_b, **where_b)).dropna()


def row(finding: Finding, d: pd.Series, **cells) -> dict:
    """One findings row: the cells compared, d's mean and interval over seeds, the verdict."""
    low, high = t_interval(d) if len(d) else (np.nan, np.nan)
    return {
        "finding": finding.number,
        "statement": finding.statement,
        "comparison": finding.comparison,
        **cells,
        "n_seeds": len(d),
        "mean": d.mean() if len(d) else np.nan,
        "ci_low": low,
        "ci_high": high,
        "verdict": verdict(finding.kind, low, high) if len(d) else "not measured",
    }


def findings_table(study: pd.DataFrame, method: str | None = None) -> pd.DataFrame:
    """One row per architecture, finding, recipe and bit width compared (module docstring): the
    comparison, its mean and 95 % CI over seeds, and the verdict. `method`: the PTQ method
    compared (None: the table's first), fixed so that a second method's cells at some bit widths
    change nothing. Each architecture (the study table's `architecture` column: LSTM,
    transformer) is compared within itself: its generative against its discriminative family."""
    if "architecture" not in study:  # a study table from before the architecture column: the LSTMs'
        study = study.assign(architecture="lstm", kind=study["model"])
    method = method or next((m for m in study["method"].unique() if m != FP32), None)
    parts = [
        _findings_of(own.assign(model=own["kind"]), method).assign(architecture=architecture)
        for architecture, own in study.groupby("architecture", sort=False)
    ]
    return pd.concat(parts, ignore_index=True)[COLUMNS].astype({"bits": "Int64"})


def _findings_of(study: pd.DataFrame, method: str | None) -> pd.DataFrame:
    """findings_table for one architecture, its `model` column holding each row's kind."""
    noise, top_eps = study["noise"].iloc[0], study["eps"].max()
    at_noise = study[study["noise"] == noise]
    fp32 = at_noise[at_noise["method"] == FP32]

    def compared(finding: Finding):
        """(recipe, its cells of the method compared, bit width) for each row of `finding`."""
        if finding.bits == "fp32":
            yield FP32, fp32, FP32_BITS
            return
        for recipe in dict.fromkeys(r for r in study["recipe"] if r != FP32):
            quantized = at_noise[(at_noise["recipe"] == recipe) & (at_noise["method"] == method)]
            widths = sorted(quantized["bits"].unique(), reverse=True) or [pd.NA]  # none: one "not measured" row
            for bits in widths if finding.bits == "each" else widths[-1:]:
                yield recipe, quantized, bits

    rows = []
    for finding in FINDINGS:
        eps = top_eps if finding.noisy else 0.0
        for recipe, quantized, bits in compared(finding):
            # a noise finding needs some eps > 0: at eps 0 both sides are the clean accuracy and d is 0
            measured = eps > 0 or not finding.noisy
            d = per_seed_difference(finding, fp32, quantized, bits, eps) if measured else pd.Series(dtype=float)
            cells = {"recipe": recipe, "bits": bits, "noise": noise, "method": FP32 if recipe == FP32 else method}
            rows.append(row(finding, d, **cells, eps=eps))
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "architecture"])
