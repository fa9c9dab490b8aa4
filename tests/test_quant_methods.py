"""PTQ with Brevitas on small models: the float reference, calibration, GPFQ, sizes, bad input."""

import numpy as np
import pytest
import torch

import lstmptq.quant.build as build
import lstmptq.quant.checkpoint as quant_checkpoint
import lstmptq.quant.methods as methods
import lstmptq.quant.state as state
import lstmptq.scheme as schemes
from lstmptq.grid import parse_method
from lstmptq.models.checkpoint import build_model
from lstmptq.models.training import Encoded, collate, predict, sorted_batches
from lstmptq.registry import family

V, K = 30, 3
HP = {"embedding_dim": 8, "hidden_dim": 8, "label_embedding_dim": 4, "dropout": 0.0}


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    ids = [np.array([2, *rng.integers(4, V, size=rng.integers(1, 12)), 3]) for _ in range(n)]
    return Encoded(ids, rng.integers(0, K, size=n))


def batches(encoded):
    return [collate(encoded, b, "cpu")[:2] for b in sorted_batches(encoded.lengths, 16)]


@pytest.fixture(params=["discriminative", "generative"])
def model(request):
    torch.manual_seed(0)
    return build_model(request.param, V, K, HP).eval()


def test_float_reference_equals_the_fp32_model(model):
    """Quantizers off, the Brevitas graph must be the FP32 model (catches weight remapping and
    padding bugs); variable lengths make padding part of the check."""
    test = data(seed=1)
    q = build.quantize_model(model, build.Plan.uniform(4))
    methods.brevitas_calibrate(q, batches(data()))
    _, fp32_scores = predict(model, test, 16, "cpu")
    with methods.float_reference(q) as reference:
        _, ref_scores = predict(reference, test, 16, "cpu")
    _, quant_scores = predict(q, test, 16, "cpu")
    assert np.abs(ref_scores - fp32_scores).max() < 1e-4
    assert np.abs(quant_scores - fp32_scores).max() > 1e-3  # and quantization is really on


def test_float_reference_leaves_the_calibrated_model_untouched(model):
    q = build.quantize_model(model, build.Plan.uniform(6))
    methods.brevitas_calibrate(q, batches(data()))
    before = state.activation_thresholds(q)
    with methods.float_reference(q) as reference:
        predict(reference, data(seed=2), 16, "cpu")
    assert state.activation_thresholds(q) == before


def test_calibration_sets_every_activation_threshold_and_gpfq_changes_only_the_final_layer(model):
    q = build.quantize_model(model, build.Plan.uniform(3))
    assert state.activation_thresholds(q) == {}  # Brevitas creates them at calibration
    methods.brevitas_calibrate(q, batches(data()))
    calibrated = state.activation_thresholds(q)
    # LSTM input, 11 in the LSTM cell, its output, the final layer's input
    assert len(calibrated) == 14 and all(v > 0 for v in calibrated.values())
    weights = {k: v[0].clone() for k, v in state.quantized_weights(q).items()}
    methods.apply_gpfq(q, family(model.kind), batches(data()))
    after = state.quantized_weights(q)
    final = family(model.kind).GPFQ_LAYER
    changed = {k for k in weights if not torch.equal(weights[k], after[k][0])}
    assert changed == {final}
    assert not hasattr(getattr(q, final), "weight_orig")


@pytest.mark.parametrize("bits", [8, 4, 3])
def test_integer_weights_are_in_the_narrow_range(model, bits):
    q = build.quantize_model(model, build.Plan.uniform(bits))
    for name, (ints, scale, width) in state.quantized_weights(q).items():
        assert width == bits and (scale > 0).all()
        assert ints.abs().max() <= 2 ** (bits - 1) - 1, name


def test_size_counts_bits_not_stored_floats(model):
    n_params = sum(p.numel() for p in model.parameters())
    q8 = build.quantize_model(model, build.Plan.uniform(8))
    q4 = build.quantize_model(model, build.Plan.uniform(4))
    quantized = sum(w.numel() for w, _, _ in state.quantized_weights(q8).values())
    assert state.size_bits(q8) - state.size_bits(q4) == 4 * quantized
    assert state.size_bits(q4) < 32 * n_params / 4


def test_stage_isolation_keeps_one_stage_at_8_bits(model):
    assert parse_method("gpfq") == ("gpfq", None)
    assert parse_method("plain-lstm8") == ("plain", "lstm")
    # any registered name parses (an unknown one is refused by the config check, see test_config)
    assert parse_method("adaround-head8") == ("adaround", "head")
    for malformed in ("gpfq-foo8", "gpfq-lstm4", "GPFQ", "gpfq-", ""):
        with pytest.raises(ValueError, match=f"PTQ method {malformed!r}"):
            parse_method(malformed)
    q = build.quantize_model(model, build.Plan(schemes.parse("w3"), 99.99, keep_8bit="lstm"))
    bits = {name: width for name, (_, _, width) in state.quantized_weights(q).items()}
    assert {width for name, width in bits.items() if name.startswith("lstm.")} == {8}
    assert {width for name, width in bits.items() if not name.startswith("lstm.")} == {3}
    assert (
        int(q.lstm.layers[0][0].cell.cell_state_quant.bit_width()) == 8 and int(q.lstm_input.act_quant.bit_width()) == 3
    )


def test_bit_widths_outside_2_to_16_are_refused():
    for name in ("w1", "w4c17", "w4c1"):
        with pytest.raises(ValueError, match="bit widths run 2..16"):
            schemes.parse(name)


def save_calibrated(model, path):
    """A calibrated 4-bit model saved as a PTQ cell saves it; returns the quantized model."""
    q = build.quantize_model(model, build.Plan.uniform(4))
    methods.brevitas_calibrate(q, batches(data()))
    quant_checkpoint.save_quantized(path, q, {"kind": model.kind}, build.Plan.uniform(4), "plain")
    return q


def test_saved_quantized_state_reloads_without_recalibration(model, tmp_path):
    q = save_calibrated(model, tmp_path / "q.pt")
    again, payload = quant_checkpoint.load_quantized(model, tmp_path / "q.pt")
    assert payload["method"] == "plain" and payload["fp32_meta"] == {"kind": model.kind}
    test = data(seed=3)
    assert np.array_equal(predict(again, test, 16, "cpu")[1], predict(q, test, 16, "cpu")[1])


def test_corrupt_quantized_file_is_a_clear_error(model, tmp_path):
    path = tmp_path / "q.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"q\.pt: truncated or not a quantized model .*snakemake .*q\.pt --force$"):
        quant_checkpoint.load_quantized(model, path)
    torch.save({"format": 1, "percentile": 99.99, "state_dict": {}}, path)
    with pytest.raises(ValueError, match=r"q\.pt: quantized model in format 1, but this code reads format 3"):
        quant_checkpoint.load_quantized(model, path)


def test_edited_quantized_state_is_refused(model, tmp_path):
    path = tmp_path / "q.pt"
    q = save_calibrated(model, path)
    data = bytearray(path.read_bytes())
    offset = data.find(q.state_dict()["embedding.weight"].numpy().tobytes())
    assert offset > 0
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(
        ValueError,
        match=r"q\.pt: content does not match its checksum: the file was edited or corrupted; rebuild it with",
    ):
        quant_checkpoint.load_quantized(model, path)


def test_gpfq_on_the_lstm_refuses_full_range_weights(model):
    from lstmptq.quant.lstm.gpfq import apply_gpfq_lstm

    plan = build.Plan(schemes.parse("w4u"), 99.99)
    q = build.quantize_model(model, plan)
    methods.calibrate(q, batches(data()), plan)
    with pytest.raises(ValueError, match=r"gpfq_lstm rounds to narrow-range integers.*use gpfq or plain"):
        apply_gpfq_lstm(q, family(model.kind), batches(data()))


def test_full_range_weights_use_every_level_and_a_scale_of_max_over_two_to_the_b_minus_1(model):
    """The paper's code quantizes weights with narrow_range=False: at 3 bits, integers -4..3 and
    scale max|W| / 4 (the largest positive weight may clip by one level)."""
    head = family(model.kind).GPFQ_LAYER
    w = getattr(model, head).weight.detach()
    fp32 = w.abs().max()
    weight = state.weight_of(getattr(build.quantize_model(model, build.Plan(schemes.parse("w3u"), 99.99)), head))
    assert not weight.narrow and weight.integers.min() >= -4 and weight.integers.max() <= 3
    assert torch.allclose(weight.scale, fp32 / 4)
    largest = weight.integers.flatten()[w.abs().flatten().argmax()]
    assert int(largest) == (-4 if w.flatten()[w.abs().flatten().argmax()] < 0 else 3)  # the positive max clips
    narrow = state.weight_of(getattr(build.quantize_model(model, build.Plan.uniform(3)), head))
    assert narrow.narrow and narrow.integers.abs().max() == 3
    assert torch.allclose(narrow.scale, fp32 / 3)
