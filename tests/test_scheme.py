"""Quantization schemes: the name grammar, the design-space grid, and the scale statistics of the
float statistics pass on small tensors."""

import pytest
import torch

from lstmptq import grid, scheme
from lstmptq.quant.observers import Fixed, PooledMax, PooledMSE, RunningPercentile, observer


def test_the_paper_setting_is_one_letter_and_every_class_defaults_to_it():
    parsed = scheme.parse("w4")
    assert parsed.uniform and {s.bits for s in parsed.settings.values()} == {4}
    assert scheme.parse("w3a8").settings["c"].bits == 8 and scheme.parse("w3a8").weight_bits == 3
    assert scheme.parse("w4c16").settings["a"].bits == 4 and scheme.parse("w4c16").settings["c"].bits == 16
    assert not scheme.parse("w4c16").uniform and not scheme.parse("w4r").uniform


@pytest.mark.parametrize(
    "name, fix",
    [
        ("w4a4", "write it as 'w4'"),
        ("wfafc3", "write it as 'wfc3'"),
        ("a4w4", "start with the weights"),
        ("w4c16r", "per-row scales"),
        ("w4k", "statistics .* are for activations"),
        ("w4a4k", "fixed scale `k` is for sigmoid/tanh"),
        ("w4c4c8", "appears twice"),
        ("w4q8", "cannot read 'q8'"),
        ("w4hh", "only xh share a quantizer"),
        ("w4xhr", "shares a quantizer; no modifiers"),
        ("w4xhh8", "write it as 'w4h8xh'"),
        ("w4ur", "give at most r, then u"),
        ("w4a4u", r"full-range integers \(u\) are for weights"),
        ("w4cfm", "takes no modifiers"),
        ("w17", "bit widths run 2..16"),
    ],
)
def test_a_scheme_has_one_spelling_and_a_wrong_one_names_the_fix(name, fix):
    with pytest.raises(scheme.SchemeError, match=fix):
        scheme.parse(name)


@pytest.mark.parametrize(
    "name", ["w4", "w3a8", "w4c16", "w4r", "w4s4k", "w4a4m", "w4h8e", "wfc3", "w8a3h8g8s8c8", "wf", "w2a16", "w3ru"]
)
def test_canonical_names_parse_back_to_themselves_and_match_the_path_pattern(name):
    import re

    assert scheme.parse(name).name == name and re.fullmatch(grid.WILDCARDS["scheme"], name)


def test_each_quantizer_belongs_to_one_class_and_one_stage():
    assert [
        scheme.class_of(n) for n in ("lstm.weight_ih", "decoder.weight", "lstm_input", "head_input", "lstm.output")
    ] == ["w", "w", "x", "a", "h"]
    assert [
        scheme.class_of(n)
        for n in ("lstm.cell_acc", "lstm.output_sigmoid", "lstm.hidden_state_tanh", "lstm.cell_state")
    ] == ["g", "s", "s", "c"]
    assert [
        scheme.stage_of(n)
        for n in ("label_embedding.weight", "lstm_input", "lstm.output", "head_input", "classifier.weight")
    ] == ["embedding", "embedding", "lstm", "head", "head"]  # fmt: skip


def test_the_sensitivity_sweep_puts_one_class_at_a_time_at_low_bits():
    config = {
        "design_space": {
            "schemes": ["w4c16", "w8c3"],
            "sensitivity": {"bits": [3], "rest": [8, "float"], "classes": ["w", "a", "c"]},
        }
    }
    assert grid.design_space_schemes(config) == [
        "w4c16",
        "w8c3",
        "w3a8",
        "w8a3h8g8s8c8x8",  # `a` alone: the final layer's input (the LSTM input is `x`)
        "w3af",
        "wfa3hfgfsfcfxf",
        "wfc3",
    ]  # w8c3 once
    swept = [scheme.parse(n) for n in grid.design_space_schemes(config)[1:]]
    for parsed, letter in zip(swept, ["c", "w", "a", "w", "a", "c"], strict=True):
        # only the LSTMs' classes count: the transformers' (no quantizer in an LSTM) follow `a`
        assert [c for c, s in parsed.settings.items() if s.bits == 3 and c in scheme.LSTM_CLASSES] == [letter]


# ---- statistics ---------------------------------------------------------------------------


def calls(seed=0, n=5):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(64, 16, generator=generator) * (1 + i) for i in range(n)]


def test_max_is_over_every_value_not_a_mean_of_calls():
    watcher = PooledMax()
    for x in calls():
        watcher(x)
    assert torch.equal(watcher.threshold(4, True), torch.cat(calls()).abs().max())
    brevitas_like = RunningPercentile(100.0)
    for x in calls():
        brevitas_like(x)
    assert brevitas_like.threshold(4, True) < watcher.threshold(
        4, True
    )  # the paper's statistic averages per-call maxima


def mse(values, threshold, bits, signed):
    levels = 2 ** (bits - 1) if signed else 2**bits - 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    scale = threshold / levels
    return float(((torch.round(values / scale).clamp(low, high) * scale - values) ** 2).mean())


@pytest.mark.parametrize("bits, signed", [(3, True), (4, True), (8, True), (3, False)])
def test_mse_threshold_is_the_best_on_a_fine_grid_and_clips_heavy_tails(bits, signed):
    values = torch.cat(calls(1))
    values = values.abs() if not signed else values
    watcher = PooledMSE()
    for part in values.split(64):
        watcher(part)
    found = float(watcher.threshold(bits, signed))
    top = float(values.abs().max())
    brute = min(mse(values, top * k / 2000, bits, signed) for k in range(1, 2001))
    assert mse(values, found, bits, signed) <= brute * 1.01
    assert found < top  # a Gaussian's tail is not worth its rounding error at these widths
    assert mse(values, found, bits, signed) < mse(values, top, bits, signed)


def test_mse_sample_stays_bounded_and_deterministic():
    first, second = PooledMSE(capacity=1000), PooledMSE(capacity=1000)
    for x in calls(2, n=20):
        first(x)
        second(x)
    assert first.kept <= 1000 and first.stride > 1
    assert torch.equal(first.threshold(4, True), second.threshold(4, True))
    assert torch.equal(first.max, torch.cat(calls(2, n=20)).abs().max())  # the max stays exact


def test_fixed_scale_is_the_analytic_range_and_the_factory_knows_every_statistic():
    assert float(Fixed().threshold(3, False)) == 1.0
    assert {type(observer(s, 99.0)) for s in scheme.statistics()} == {RunningPercentile, PooledMax, PooledMSE, Fixed}
