"""The study's four findings (shared notes, study.md), each tested on a dataset's study table.

Each finding becomes one paired comparison per seed: a difference d between two cells that share
the seed (e.g. the discriminative minus the generative FP32 model's drop under the strongest
noise). Over seeds, d's mean and 95 % Student-t interval decide the verdict:

- a "greater" finding: supported when the interval lies above 0, not supported when it lies
  below 0, inconclusive when it contains 0;
- the "stable" finding (3): supported when the interval lies inside +-EQUIVALENCE_MARGIN, not
  supported when it lies wholly outside it, else inconclusive.

One seed gives no interval, so every verdict is inconclusive. The cells compared: the first
noise model and PTQ method of the grid, the lowest bit width, the highest eps, and the
`balanced` and `random` calibration strategies; a finding whose cells the grid lacks is `not
measured`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmptq.grid import FP32
from lstmptq.report.tables import t_interval

EQUIVALENCE_MARGIN = 0.01  # accuracy (1 point): a difference inside it counts as "stable"


@dataclass
class Finding:
    number: str
    statement: str
    comparison: str  # what d is, per seed
    kind: str  # "greater" or "equivalent"


FINDINGS = (
    Finding("1", "Generative classifiers are more robust to input noise at full precision.",
            "FP32 drop vs eps 0 at the highest eps: discriminative minus generative", "greater"),
    Finding("2a", "Generative classifiers are more sensitive to low bit widths.",
            "drop vs FP32 at the lowest bit width, eps 0 (mean over strategies): generative minus discriminative",
            "greater"),
    Finding("2b", "Class-balanced calibration helps generative classifiers at low bit widths.",
            "generative accuracy at the lowest bit width, eps 0: balanced minus random calibration", "greater"),
    Finding("3", "Discriminative classifiers are stable across calibration strategies.",
            "discriminative accuracy at the lowest bit width, eps 0: balanced minus random calibration "
            f"(stable: within +-{EQUIVALENCE_MARGIN})",
            "equivalent"),
    Finding("4", "Quantized generative classifiers lose accuracy sharply under noise at low bit widths.",
            "generative drop vs eps 0 at the highest eps: lowest bit width (mean over strategies) minus FP32",
            "greater"),
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


def per_seed_differences(study: pd.DataFrame) -> tuple[dict[str, pd.Series], dict]:
    """(finding number -> d per seed, empty where the grid lacks the cells; the cells compared)."""
    noise, method = study["noise"].iloc[0], next((m for m in study["method"].unique() if m != FP32), None)
    quantized = study[(study["method"] == method) & (study["noise"] == noise)]
    fp32 = study[(study["method"] == FP32) & (study["noise"] == noise)]
    low_bits, top_eps = quantized["bits"].min(), study["eps"].max()

    def measure(frame: pd.DataFrame, column: str, **where) -> pd.Series:
        """`column` per seed, over the rows matching `where` (mean over the rest, e.g. strategies)."""
        rows = frame
        for key, value in where.items():
            rows = rows[rows[key] == value]
        return rows.groupby("seed")[column].mean()

    def minus(a: pd.Series, b: pd.Series) -> pd.Series:
        return (a - b).dropna()

    return {
        "1": minus(
            measure(fp32, "drop_vs_clean", model="discriminative", eps=top_eps),
            measure(fp32, "drop_vs_clean", model="generative", eps=top_eps),
        ),
        "2a": minus(
            measure(quantized, "drop_vs_fp32", model="generative", bits=low_bits, eps=0.0),
            measure(quantized, "drop_vs_fp32", model="discriminative", bits=low_bits, eps=0.0),
        ),
        "2b": minus(
            measure(quantized, "accuracy", model="generative", bits=low_bits, eps=0.0, strategy="balanced"),
            measure(quantized, "accuracy", model="generative", bits=low_bits, eps=0.0, strategy="random"),
        ),
        "3": minus(
            measure(quantized, "accuracy", model="discriminative", bits=low_bits, eps=0.0, strategy="balanced"),
            measure(quantized, "accuracy", model="discriminative", bits=low_bits, eps=0.0, strategy="random"),
        ),
        "4": minus(
            measure(quantized, "drop_vs_clean", model="generative", bits=low_bits, eps=top_eps),
            measure(fp32, "drop_vs_clean", model="generative", eps=top_eps),
        ),
    }, {"noise": noise, "method": method, "bits": low_bits, "eps": top_eps}


def findings_table(study: pd.DataFrame) -> pd.DataFrame:
    """One row per finding: the comparison, its mean and 95 % CI over seeds, and the verdict."""
    differences, cells = per_seed_differences(study)
    rows = []
    for finding in FINDINGS:
        d = differences[finding.number]
        low, high = t_interval(d) if len(d) else (np.nan, np.nan)
        rows.append(
            {
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
        )
    return pd.DataFrame(rows)
