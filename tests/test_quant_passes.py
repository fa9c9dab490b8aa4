"""The plain-PyTorch passes give exactly what Brevitas' own passes give (lstmptq.quant.passes)."""

import copy

import pytest
import torch
from test_quant_methods import HP, K, V, batches, data

import lstmptq.quant.build as build
import lstmptq.quant.lstm.gpfq as lstm_gpfq
import lstmptq.quant.methods as methods
import lstmptq.quant.passes as passes
import lstmptq.quant.state as state
import lstmptq.scheme as schemes
from lstmptq.models.checkpoint import build_model
from lstmptq.registry import family


def model_with_lively_gates(kind):
    torch.manual_seed(0)
    model = build_model(kind, V, K, HP).eval()
    with torch.no_grad():  # random-init gates sit near sigmoid(0); scaled up, quantizers clip and round for real
        model.lstm.weight_ih_l0.mul_(3)
        model.lstm.weight_hh_l0.mul_(3)
    return model


PAPER_PERCENTILES = (("a", 99.9), ("c", 99.999), ("g", 99.999), ("h", 99.999), ("s", 99.999))  # a recipe's


@pytest.mark.parametrize(
    "plan",
    [
        *(build.Plan.uniform(bits) for bits in (8, 4, 3)),
        # x_t on h_t's io quantizer (observed into one statistic), per-class percentiles
        *(build.Plan(schemes.parse(name), 99.99, None, PAPER_PERCENTILES) for name in ("w4uh8g8s8c8xh", "w3uxh")),
    ],
    ids=lambda plan: plan.scheme.name,
)
@pytest.mark.parametrize("kind", ["discriminative", "generative"])
def test_thresholds_and_gpfq_equal_brevitas_own_passes(kind, plan, monkeypatch):
    model, calibration = model_with_lively_gates(kind), batches(data())
    slow = build.quantize_model(model, plan)
    methods.brevitas_calibrate(slow, calibration)  # Brevitas' calibration mode over QuantLSTM
    fast = build.quantize_model(model, plan)
    assert passes.supported(fast)
    methods.set_thresholds(fast, passes.thresholds(fast, calibration, plan))
    assert state.activation_thresholds(fast) == state.activation_thresholds(slow)  # bit for bit, all keys

    brevitas_gpfq = copy.deepcopy(slow)
    with monkeypatch.context() as patch:
        from brevitas.graph.gpfq import GPFQ

        patch.setattr(passes, "supported", lambda qmodel: False)  # GPFQ drives the whole model
        patch.setattr(methods, "incremental_gpfq", lambda: GPFQ)  # with Brevitas' own update loop
        methods.apply_gpfq(brevitas_gpfq, family(kind), calibration)
    methods.apply_gpfq(fast, family(kind), calibration)
    expected, got = brevitas_gpfq.state_dict(), fast.state_dict()
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[key], got[key]) for key in expected)
    head = family(kind).GPFQ_LAYER
    assert not torch.equal(
        state.quantized_weights(fast)[head][0], state.quantized_weights(slow)[head][0]
    )  # GPFQ did round


def test_final_layer_inputs_are_the_quantized_and_the_brevitas_float_inputs():
    """GPFQ's "float" input is not the FP32 model's: QuantLSTM's cell quantizers stay on."""
    model, calibration = model_with_lively_gates("discriminative"), batches(data())
    qmodel = build.quantize_model(model, build.Plan.uniform(4))
    methods.brevitas_calibrate(qmodel, calibration)
    (quantized, floating), *_ = passes.final_layer_inputs(qmodel, "classifier", calibration)
    ids, lengths = calibration[0]
    with torch.no_grad():
        fp32 = model.head_input(model.features(ids, lengths))
        grid = qmodel.head_input.act_quant.scale()
    assert quantized.shape == floating.shape == fp32.shape
    assert torch.allclose(quantized / grid, torch.round(quantized / grid))  # on the head input's grid
    assert not torch.equal(floating, fp32)


def test_a_model_with_another_brevitas_layer_falls_back_to_brevitas():
    from brevitas.nn import QuantConv1d

    qmodel = build.quantize_model(model_with_lively_gates("discriminative"), build.Plan.uniform(8))
    assert passes.supported(qmodel)
    qmodel.extra = torch.nn.Sequential(QuantConv1d(2, 2, 1))
    assert not passes.supported(qmodel)


@pytest.mark.parametrize("kind", ["discriminative", "generative"])
def test_lstm_gate_inputs_are_the_fp32_and_the_quantized_trajectories(kind):
    """H and G against inputs built independently: the FP32 model's nn.LSTM, and Brevitas'
    QuantLSTM run on its quantized input (real positions only, h_{-1} = 0)."""
    model = model_with_lively_gates(kind)
    plan = build.Plan.uniform(4)
    q = build.quantize_model(model, plan)
    calibration = batches(data())
    methods.set_thresholds(q, passes.thresholds(q, calibration, plan))
    statistics = lstm_gpfq.lstm_gate_inputs(q, calibration, HP["embedding_dim"] + HP["hidden_dim"])
    drop = 1 if kind == "generative" else 0  # it reads ids[:, :-1]
    X, Xq = [], []
    with torch.no_grad():
        for ids, lengths in calibration:
            ids = ids[:, : ids.size(1) - drop]
            mask = torch.arange(ids.size(1))[None, :] < (lengths - drop)[:, None]
            for rows, lstm_input, lstm in (
                (X, model.embedding(ids), model.lstm),
                (Xq, q.lstm_input(q.embedding(ids)), q.lstm),
            ):
                x = lstm_input.value if hasattr(lstm_input, "value") else lstm_input
                h = lstm(x)[0]
                h = h.value if hasattr(h, "value") else h
                previous = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], 1)
                rows.append(torch.cat([x, previous], 2)[mask])
    X, Xq = torch.cat(X).double(), torch.cat(Xq).double()
    assert statistics.samples == len(X)
    assert torch.allclose(statistics.H, Xq.T @ Xq, rtol=1e-5, atol=1e-5) and torch.allclose(
        statistics.G, Xq.T @ X, rtol=1e-5, atol=1e-5
    )
    assert not torch.allclose(Xq, X, atol=1e-3)  # the two trajectories differ


@pytest.mark.parametrize("scheme", ["w3", "w3r"])
def test_gpfq_lstm_rounds_the_lstm_weights_and_keeps_every_scale(scheme):
    model = model_with_lively_gates("discriminative")
    plan = build.Plan(schemes.parse(scheme), 99.99)
    q = build.quantize_model(model, plan)
    calibration = batches(data())
    methods.set_thresholds(q, passes.thresholds(q, calibration, plan))
    before = {k: (w.clone(), s.clone()) for k, (w, s, _) in state.quantized_weights(q).items()}
    lstm_gpfq.apply_gpfq_lstm(q, family("discriminative"), calibration)
    after = state.quantized_weights(q)
    changed = {k for k in before if not torch.equal(before[k][0], after[k][0])}
    assert {k.split(".")[0] for k in changed} == {"lstm", "classifier"} and any(k.startswith("lstm.") for k in changed)
    assert all(
        torch.equal(before[k][1], after[k][1]) for k in before if k.startswith("lstm.")
    )  # the scales did not move
