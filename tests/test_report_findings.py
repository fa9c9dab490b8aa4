"""The study's findings as verdicts from per-seed paired differences (lstmptq.report.findings)."""

import numpy as np
import pandas as pd
import pytest

from lstmptq.report.findings import COLUMNS, findings_table, verdict

PAPER = {("paper", 3): (0.30, 0.10)}  # (recipe, bits): quantized drop vs FP32 (discriminative, generative)


def study(seeds=(0, 1, 2), cells=PAPER, strategies=("balanced", "random"), method="gpfq", missing=None):
    """A study table with known numbers: discriminative FP32 loses 0.20 under eps 0.1, generative
    0.05; in each quantized cell the two models lose `cells`' drops (generative +- seed noise) vs
    FP32; the two strategies differ by a sign-changing amount (generative) or by < 0.005
    (discriminative); quantized, generative loses 0.15 more under noise. `missing`: (recipe,
    strategy) the grid lacks."""
    rows = []
    for seed in seeds:
        jitter = 0.01 * (seed - 1)
        for model, fp32, noise_drop in (("discriminative", 0.9, 0.20), ("generative", 0.95, 0.05)):
            for eps, drop in ((0.0, 0.0), (0.1, noise_drop)):
                rows.append({"model": model, "seed": seed, "recipe": "fp32", "strategy": "fp32", "method": "fp32",
                             "bits": 32, "noise": "n", "eps": eps, "accuracy": fp32 - drop, "drop_vs_clean": drop,
                             "drop_vs_fp32": 0.0})  # fmt: skip
            for (recipe, bits), drops in cells.items():
                quant_drop = drops[0] if model == "discriminative" else drops[1] + jitter
                for strategy in (s for s in strategies if (recipe, s) != missing):
                    offset = (0.02 * (-1) ** seed if model == "generative" else 0.004 * (seed - 1)) * (
                        strategy == "balanced"
                    )
                    clean = fp32 - quant_drop + offset
                    for eps, extra in ((0.0, 0.0), (0.1, noise_drop + 0.15 * (model == "generative"))):
                        rows.append({"model": model, "seed": seed, "recipe": recipe, "strategy": strategy,
                                     "method": method, "bits": bits, "noise": "n", "eps": eps,
                                     "accuracy": clean - extra, "drop_vs_clean": extra,
                                     "drop_vs_fp32": fp32 - (clean - extra)})  # fmt: skip
    return pd.DataFrame(rows)


def verdicts(findings: pd.DataFrame) -> dict:
    return {(f, r, b): v for f, r, b, v in findings[["finding", "recipe", "bits", "verdict"]].itertuples(index=False)}


def test_verdicts_follow_the_intervals():
    findings = findings_table(study())
    assert list(findings.columns) == COLUMNS
    assert verdicts(findings) == {
        ("1", "fp32", 32): "supported",
        ("2a", "paper", 3): "not supported",
        ("2b", "paper", 3): "inconclusive",
        ("3", "paper", 3): "supported",
        ("4", "paper", 3): "supported",
    }
    findings = findings.set_index("finding")
    assert findings.loc["1", "mean"] == pytest.approx(0.15) and findings.loc["4", "mean"] == pytest.approx(0.15)
    assert (findings["n_seeds"] == 3).all() and (findings["method"] == ["fp32", "gpfq", "gpfq", "gpfq", "gpfq"]).all()
    assert findings["eps"].to_dict() == {"1": 0.1, "2a": 0.0, "2b": 0.0, "3": 0.0, "4": 0.1}
    assert (findings["ci_low"] <= findings["mean"]).all() and (findings["mean"] <= findings["ci_high"]).all()


def test_one_seed_decides_nothing_and_missing_cells_are_not_measured():
    assert set(findings_table(study(seeds=(0,)))["verdict"]) == {"inconclusive"}
    findings = findings_table(study(strategies=("balanced",))).set_index("finding")
    assert findings.loc[["2b", "3"], "verdict"].tolist() == ["not measured", "not measured"]
    assert findings.loc[["1", "2a"], "verdict"].tolist() == ["supported", "not supported"]


def test_without_noise_the_noise_findings_are_not_measured():
    """A grid of eps 0 only measures no noise: findings 1 and 4 would compare clean with clean (d = 0)."""
    clean = study()
    findings = findings_table(clean[clean["eps"] == 0]).set_index("finding")
    assert findings.loc[["1", "4"], "verdict"].tolist() == ["not measured", "not measured"]
    assert findings.loc[["2a", "3"], "verdict"].tolist() == ["not supported", "supported"]


def test_each_recipe_is_judged_on_its_own():
    """Uniform's generative model collapses at 3 bits (drop 0.60 vs 0.30), the paper's does not."""
    findings = findings_table(study(cells=PAPER | {("uniform", 3): (0.30, 0.60)}))
    assert verdicts(findings) == {
        ("1", "fp32", 32): "supported",
        ("2a", "paper", 3): "not supported",
        ("2a", "uniform", 3): "supported",
        ("2b", "paper", 3): "inconclusive",
        ("2b", "uniform", 3): "inconclusive",
        ("3", "paper", 3): "supported",
        ("3", "uniform", 3): "supported",
        ("4", "paper", 3): "supported",
        ("4", "uniform", 3): "supported",
    }
    assert findings.loc[findings["finding"] == "2a", "mean"].tolist() == pytest.approx([-0.20, 0.30], abs=0.01)


def test_2a_and_2b_get_every_bit_width_3_and_4_the_lowest():
    """The generative model collapses at 5 bits and below, as one of the paper's runs does."""
    cells = {("paper", 8): (0.02, 0.01), ("paper", 5): (0.03, 0.40), ("paper", 4): (0.05, 0.60)}
    findings = findings_table(study(cells=cells))
    two_a = findings[findings["finding"] == "2a"]
    assert two_a["bits"].tolist() == [8, 5, 4] and findings[findings["finding"] == "2b"]["bits"].tolist() == [8, 5, 4]
    assert two_a["verdict"].tolist() == ["inconclusive", "supported", "supported"]  # 8 bits: -0.01 +- seed noise
    assert findings.loc[findings["finding"].isin(["3", "4"]), "bits"].tolist() == [4, 4]


def test_a_recipe_missing_a_strategy_is_not_measured_only_there():
    findings = findings_table(study(cells=PAPER | {("uniform", 3): (0.30, 0.60)}, missing=("uniform", "random")))
    found = verdicts(findings)
    assert found[("2b", "uniform", 3)] == found[("3", "uniform", 3)] == "not measured"
    assert (found[("2b", "paper", 3)], found[("3", "paper", 3)]) == ("inconclusive", "supported")
    assert found[("2a", "uniform", 3)] == "supported"  # the mean over the strategies there


def test_the_method_compared_is_the_callers():
    """`plain` exists only for the paper recipe at 4 bits: compared with gpfq it changes nothing,
    and compared alone it leaves every other recipe `not measured`."""
    gpfq = study(cells=PAPER | {("uniform", 3): (0.30, 0.60)})
    plain = study(cells={("paper", 4): (0.30, 0.50)}, method="plain").query("method == 'plain'")
    both = pd.concat([gpfq, plain], ignore_index=True)
    pd.testing.assert_frame_equal(findings_table(both, method="gpfq"), findings_table(gpfq))
    pd.testing.assert_frame_equal(findings_table(both), findings_table(gpfq))  # the table's first method
    found = findings_table(both, method="plain")
    assert verdicts(found)[("2a", "paper", 4)] == "supported"
    assert (found["bits"].isna() == (found["recipe"] == "uniform")).all()  # no bit width of plain there
    assert set(found.loc[found["recipe"] == "uniform", "verdict"]) == {"not measured"}


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
