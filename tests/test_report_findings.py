"""The study's findings as verdicts from per-seed paired differences (lstmptq.report.findings)."""

import numpy as np
import pandas as pd
import pytest

from lstmptq.report.findings import findings_table, verdict


def study(seeds=(0, 1, 2), strategies=("balanced", "random")):
    """A study table with known numbers: discriminative FP32 loses 0.20 under eps 0.1, generative
    0.05; at 3 bits generative loses 0.10 (+- seed noise) vs FP32, discriminative 0.30; the two
    strategies differ by a sign-changing amount (generative) or by < 0.005 (discriminative)."""
    rows = []
    for seed in seeds:
        jitter = 0.01 * (seed - 1)
        for model, fp32, noise_drop, quant_drop in (
            ("discriminative", 0.9, 0.20, 0.30),
            ("generative", 0.95, 0.05, 0.10 + jitter),
        ):
            for eps, drop in ((0.0, 0.0), (0.1, noise_drop)):
                rows.append({"model": model, "seed": seed, "strategy": "fp32", "method": "fp32", "bits": 32,
                             "noise": "n", "eps": eps, "accuracy": fp32 - drop, "drop_vs_clean": drop,
                             "drop_vs_fp32": 0.0})  # fmt: skip
            for strategy in strategies:
                offset = (0.02 * (-1) ** seed if model == "generative" else 0.004 * (seed - 1)) * (
                    strategy == "balanced"
                )
                clean = fp32 - quant_drop + offset
                for eps, extra in ((0.0, 0.0), (0.1, noise_drop + 0.15 * (model == "generative"))):
                    rows.append({"model": model, "seed": seed, "strategy": strategy, "method": "gpfq", "bits": 3,
                                 "noise": "n", "eps": eps, "accuracy": clean - extra, "drop_vs_clean": extra,
                                 "drop_vs_fp32": fp32 - (clean - extra)})  # fmt: skip
    return pd.DataFrame(rows)


def test_verdicts_follow_the_intervals():
    findings = findings_table(study()).set_index("finding")
    assert findings["verdict"].to_dict() == {
        "1": "supported",
        "2a": "not supported",
        "2b": "inconclusive",
        "3": "supported",
        "4": "supported",
    }
    assert findings.loc["1", "mean"] == pytest.approx(0.15) and findings.loc["4", "mean"] == pytest.approx(0.15)
    assert (findings["n_seeds"] == 3).all() and (findings["bits"] == 3).all() and (findings["eps"] == 0.1).all()
    assert (findings["ci_low"] <= findings["mean"]).all() and (findings["mean"] <= findings["ci_high"]).all()


def test_one_seed_decides_nothing_and_missing_cells_are_not_measured():
    assert set(findings_table(study(seeds=(0,)))["verdict"]) == {"inconclusive"}
    findings = findings_table(study(strategies=("balanced",))).set_index("finding")
    assert findings.loc[["2b", "3"], "verdict"].tolist() == ["not measured", "not measured"]
    assert findings.loc["1", "verdict"] == "supported"


@pytest.mark.parametrize(
    "kind, low, high, expected",
    [("greater", 0.01, 0.02, "supported"),
     ("greater", -0.02, -0.01, "not supported"),
     ("greater", -0.01, 0.01, "inconclusive"),
     ("equivalent", -0.005, 0.009, "supported"),
     ("equivalent", 0.02, 0.03, "not supported"),
     ("equivalent", 0.0, 0.02, "inconclusive"),
     ("greater", 0.0, 0.0, "not supported"),
     ("greater", np.nan, np.nan, "inconclusive")],
)  # fmt: skip
def test_verdict(kind, low, high, expected):
    assert verdict(kind, low, high) == expected
