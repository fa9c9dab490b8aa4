"""KS runs the quantized models from their artifacts: what it sees equals what Brevitas' models give."""

import numpy as np
import pytest
import torch
from test_quant_engine import HP, documents, export, export_scheme, trained, vocab  # noqa: F401 (fixtures)

import lstmptq.quant.build as build
import lstmptq.scheme as schemes
from lstmptq.evaluation import ks
from lstmptq.io import write_frame
from lstmptq.quant import artifact
from lstmptq.registry import family


@pytest.mark.parametrize(
    "scheme, method", [("w8", "gpfq"), ("w3", "gpfq"), ("w3u", "gpfq"), ("w3", "gpfq_lstm"), ("w4r", "gpfq_lstm")]
)
def test_before_calibration_is_brevitas_uncalibrated_model(trained, scheme, method, tmp_path, vocab):  # noqa: F811
    """The calibrated, GPFQ-rounded artifact (final layer, or the LSTM too) with calibration and
    rounding undone equals Brevitas' own quantized graph before calibration, bit for bit."""
    export_scheme(trained, scheme, tmp_path / "calibrated.safetensors", vocab, method)
    calibrated = artifact.read(tmp_path / "calibrated.safetensors")
    head = f"{family(trained.kind).GPFQ_LAYER}.weight"
    state = trained.state_dict()
    fp32 = {
        head: state[head],
        "lstm.weight_ih": state["lstm.weight_ih_l0"],
        "lstm.weight_hh": state["lstm.weight_hh_l0"],
    }
    undone = artifact.before_calibration(calibrated, fp32)

    uncalibrated = build.quantize_model(trained, build.Plan(schemes.parse(scheme), 99.99))
    family(trained.kind).export(
        uncalibrated, tmp_path / "uncalibrated.safetensors", {"vocab": calibrated.header["vocab"]}
    )
    expected = artifact.read(tmp_path / "uncalibrated.safetensors")
    assert not torch.equal(calibrated.weights[head].integers, expected.weights[head].integers)  # GPFQ did change it
    lstm_changed = not torch.equal(
        calibrated.weights["lstm.weight_hh"].integers, expected.weights["lstm.weight_hh"].integers
    )
    assert lstm_changed == (method == "gpfq_lstm")
    assert expected.weights.keys() == undone.weights.keys() and expected.activations.keys() == undone.activations.keys()
    for name, weight in expected.weights.items():
        assert torch.equal(weight.integers, undone.weights[name].integers) and torch.equal(
            weight.scale, undone.weights[name].scale
        ), name
    for name, (scale, bits, signed) in expected.activations.items():
        assert (float(scale), bits, signed) == (float(undone.activations[name][0]), *undone.activations[name][1:]), name


def test_ks_probes_of_the_engine_are_brevitas_probes(trained, tmp_path, vocab):  # noqa: F811
    """Every KS probe of the engine equals the Brevitas model's: bit for bit in the embedding and
    the LSTM; the generative scores up to the split decoder's float rounding."""
    q, _ = export(trained, 4, tmp_path / "m.safetensors", vocab)
    probe = documents(60, seed=3)
    quantized = family(trained.kind).engine(artifact.read(tmp_path / "m.safetensors")).eval()
    got = ks.lstm_activations(quantized, probe, 16)
    expected = ks.lstm_activations(q, probe, 16)
    for name in ("embedding_output", "lstm_hidden", "signal"):
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    np.testing.assert_allclose(got["scores"], expected["scores"], rtol=1e-4, atol=1e-4)
    hidden = quantized.lstm.hidden
    if trained.kind == "discriminative":
        np.testing.assert_array_equal(got["final_layer_input"], expected["final_layer_input"])
    else:  # the decoder's document part q(h_t); Brevitas' hook holds [q(h_t) ; q(v_y)] of the last label
        np.testing.assert_array_equal(
            got["final_layer_input"],
            expected["final_layer_input"].reshape(-1, hidden + HP["label_embedding_dim"])[:, :hidden].reshape(-1),
        )

    weights = ks.artifact_weights(artifact.read(tmp_path / "m.safetensors"))
    assert weights.keys() == ks.lstm_weights(trained).keys()
    np.testing.assert_array_equal(
        weights[family(trained.kind).GPFQ_LAYER],
        getattr(q, family(trained.kind).GPFQ_LAYER).quant_weight().value.detach().flatten().numpy(),
    )


def test_ks_job_runs_without_brevitas(trained, tmp_path, vocab):  # noqa: F811
    import subprocess
    import sys

    import pandas as pd

    from lstmptq.models.checkpoint import save_checkpoint

    export(trained, 4, tmp_path / "balanced.safetensors", vocab)
    export(trained, 4, tmp_path / "random.safetensors", vocab, gpfq=False)
    meta = {
        "kind": trained.kind,
        "seed": 0,
        "label_names": ["a", "b", "c"],
        "vocab_size": trained.embedding.num_embeddings,
        "num_classes": 3,
        "model": HP,
    }
    save_checkpoint(tmp_path / "model.pt", trained, meta)
    test = documents(40, seed=4)
    write_frame(
        tmp_path / "test.parquet", pd.DataFrame({"ids": [list(map(int, d)) for d in test.ids], "label": test.labels})
    )
    code = f"""
import sys
from lstmptq.stages.ks import ks_statistics
table = ks_statistics({str(tmp_path / "model.pt")!r}, {str(tmp_path / "test.parquet")!r},
                      {{"balanced": {str(tmp_path / "balanced.safetensors")!r},
                        "random": {str(tmp_path / "random.safetensors")!r}}},
                      {str(tmp_path / "ks.csv")!r}, {str(tmp_path / "signal.json")!r},
                      bits=4, method="gpfq", probe_size=30, batch_size=16)
assert "brevitas" not in sys.modules, "the KS job imported brevitas"
print(len(table), table["comparison"].nunique())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows, comparisons = map(int, done.stdout.split())
    assert comparisons == 3 and rows > 0  # fp32_vs_quantized, pre_vs_post_calibration, balanced_vs_random
