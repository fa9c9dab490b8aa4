"""The artifact and the plain-PyTorch engine: equivalence with Brevitas on trained small models,
and refusal of every kind of bad artifact."""

import json
import struct
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

import lstmptq.quant.build as build
import lstmptq.quant.engine as engine
import lstmptq.quant.methods as methods
import lstmptq.quant.passes as passes
import lstmptq.quant.state as state
import lstmptq.scheme as schemes
from lstmptq.data.tokenizer import SPECIALS, Tokenizer
from lstmptq.io import content_sha256, write_frame, write_json
from lstmptq.models.checkpoint import build_model
from lstmptq.models.training import Encoded, collate, predict, sorted_batches
from lstmptq.quant import artifact
from lstmptq.registry import family, lookup

V, K = 60, 3
HP = {"embedding_dim": 16, "hidden_dim": 16, "label_embedding_dim": 8, "dropout": 0.0}


def documents(n, seed):
    """Each label draws most tokens from its own third of the vocabulary: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, n)
    ids = []
    for label in labels:
        own = rng.integers(4 + label * 18, 4 + (label + 1) * 18, size=rng.integers(3, 20))
        noise = rng.integers(4, V, size=own.size)
        ids.append(np.array([2, *np.where(rng.random(own.size) < 0.6, own, noise), 3]))
    return Encoded(ids, labels)


def batches(encoded, size=32):
    return [collate(encoded, b, "cpu")[:2] for b in sorted_batches(encoded.lengths, size)]


def fitted(kind: str, settings: dict, epochs: int, lr: float):
    """A small model of family `kind` trained on `documents`; refused if it did not learn."""
    torch.manual_seed(0)
    model = build_model(kind, V, K, settings)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    train = documents(256, seed=0)
    for _ in range(epochs):
        for index in sorted_batches(train.lengths, 32):
            ids, lengths, labels = collate(train, index, "cpu")
            optimizer.zero_grad()
            model.loss(ids, lengths, labels).backward()
            optimizer.step()
    model.eval()
    accuracy = (predict(model, documents(200, seed=5), 64, "cpu")[0] == documents(200, seed=5).labels).mean()
    assert accuracy > 0.8, f"the fixture model did not learn ({accuracy}); the equivalence test would be on noise"
    return model


@pytest.fixture(scope="module", params=["discriminative", "generative"])
def trained(request):
    return fitted(request.param, HP, epochs=6, lr=0.02)


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.json"
    Tokenizer([*SPECIALS, *(f"w{i}" for i in range(V - len(SPECIALS)))], max_len=30).save(path)
    return path


def write_artifact(model, q, path, vocab) -> int:
    """The family's artifact of quantized `q` (of FP32 `model`), with a cell's header; its bytes."""
    meta = {"kind": model.kind, "seed": 0, "label_names": ["a", "b", "c"], "vocab_size": V, "num_classes": K}
    header = {
        "vocab": {"size": V, "sha256": Tokenizer.load(vocab).sha256()},
        "label_names": meta["label_names"],
        "fp32_meta": {**meta, "model": HP},
    }
    return family(model.kind).export(q, path, header)


def export(model, bits, path, vocab, gpfq=True):
    q = build.quantize_model(model, build.Plan.uniform(bits))
    methods.brevitas_calibrate(q, batches(documents(128, seed=1)))
    if gpfq:
        methods.apply_gpfq(q, family(model.kind), batches(documents(128, seed=1)))
    return q, write_artifact(model, q, path, vocab)


@pytest.mark.parametrize("bits", [8, 6, 4, 3])
def test_engine_reproduces_brevitas(trained, bits, tmp_path, vocab):
    q, size = export(trained, bits, tmp_path / "model.safetensors", vocab)
    test = documents(1000, seed=2)
    _, reference = predict(q, test, 64, "cpu")
    _, scores = predict(
        engine.load(tmp_path / "model.safetensors", kind=trained.kind, vocab_file=vocab), test, 64, "cpu"
    )
    check = engine.agreement(reference, scores)
    print(
        f"{trained.kind} {bits} bits: max |engine - brevitas| = {check['max_abs_score_difference']:.3g}, "
        f"agreement {check['prediction_agreement']}"
    )
    assert check["within_tolerance"] and check["unexplained_disagreements"] == 0
    assert check["prediction_agreement"] >= 0.999
    if trained.kind == "discriminative":  # the LSTM keeps Brevitas' operation order: bit-identical on CPU
        assert check["max_abs_score_difference"] == 0
    # quantization is really on, and the tensors take about the counted bits (the JSON header,
    # a few kB, is not counted: it dominates only at this toy size)
    _, fp32 = predict(trained, test, 64, "cpu")
    assert np.abs(fp32 - scores).max() > 1e-3
    header_bytes = 8 + struct.unpack("<Q", (tmp_path / "model.safetensors").read_bytes()[:8])[0]
    assert 8 * (size - header_bytes) == pytest.approx(state.size_bits(q), rel=0.05)


SCHEMES = [
    *("w3a8", "w4c16", "w4r", "w4s4k", "w4a4m", "w4a4e", "w4h8e", "wfc3", "w8a3h8g8s8c8", "w3g8s8c8", "wf"),
    *("w4u", "w3ru", "w3uh8g8s8c8"),  # full-range weight integers, as the paper's code rounds them
    *("w4uh8g8s8c8xh", "w3xh", "w4hfxh"),  # x_t on h_t's quantizer (the paper's recipe), and both float
]


def export_scheme(model, scheme, path, vocab, method="gpfq"):
    """A cell's phases on a small model: the scheme's statistics pass, the PTQ method, export."""

    plan = build.Plan(schemes.parse(scheme), 99.99)
    q = build.quantize_model(model, plan)
    methods.set_thresholds(q, passes.thresholds(q, batches(documents(128, seed=1)), plan))
    lookup("ptq_methods", method)(q, family(model.kind), batches(documents(128, seed=1)))
    return q, write_artifact(model, q, path, vocab)


@pytest.mark.parametrize("scheme, method", [*((s, "gpfq") for s in SCHEMES), ("w3", "gpfq_lstm"), ("w4r", "gpfq_lstm")])
def test_engine_reproduces_brevitas_for_every_scheme(trained, scheme, method, tmp_path, vocab):
    """Mixed bit widths, float classes, per-row scales, every statistic, GPFQ on the LSTM: the
    same tolerances as the paper's setting (bit-identical discriminative scores)."""
    q, size = export_scheme(trained, scheme, tmp_path / "model.safetensors", vocab, method)
    test = documents(300, seed=2)
    _, reference = predict(q, test, 64, "cpu")
    _, scores = predict(
        engine.load(tmp_path / "model.safetensors", kind=trained.kind, vocab_file=vocab), test, 64, "cpu"
    )
    check = engine.agreement(reference, scores)
    assert check["within_tolerance"] and check["unexplained_disagreements"] == 0, check
    if trained.kind == "discriminative" and schemes.parse(scheme).settings["g"].quantized:
        # bit-identical where the gate accumulators are rounded to their grid; float ones keep the
        # last-bit differences of the two matmul orders, which depend on the CPU's kernels (seen: 4.8e-7)
        assert check["max_abs_score_difference"] == 0
    header_bytes = 8 + struct.unpack("<Q", (tmp_path / "model.safetensors").read_bytes()[:8])[0]
    assert 8 * (size - header_bytes) == pytest.approx(state.size_bits(q), rel=0.05)
    _, fp32 = predict(trained, test, 64, "cpu")
    assert (np.abs(fp32 - scores).max() > 1e-3) == (scheme != "wf")  # all-float is the FP32 model


def test_scheme_options_reach_the_artifact(trained, tmp_path, vocab):
    H = HP["hidden_dim"]
    export_scheme(trained, "w4r", tmp_path / "r.safetensors", vocab)
    per_row = artifact.read(tmp_path / "r.safetensors")
    head = f"{family(trained.kind).GPFQ_LAYER}.weight"
    assert per_row.weights["lstm.weight_ih"].scale.shape == (4 * H,) and per_row.weights[
        "embedding.weight"
    ].scale.shape == (1,)
    assert per_row.weights[head].scale.shape == (per_row.weights[head].integers.shape[0],)
    # one scale per gate row, shared by W_ih and W_hh: the row's joint max is the largest integer
    joint = torch.cat([per_row.weights["lstm.weight_ih"].integers, per_row.weights["lstm.weight_hh"].integers], 1)
    assert (joint.abs().amax(1) == 7).all()

    export_scheme(trained, "w4s4k", tmp_path / "k.safetensors", vocab)
    fixed = artifact.read(tmp_path / "k.safetensors").activations
    assert float(fixed["lstm.input_sigmoid"][0]) == pytest.approx(1 / 15) and float(
        fixed["lstm.cell_tanh"][0]
    ) == pytest.approx(1 / 8)
    assert float(fixed["lstm.hidden_state_tanh"][0]) == pytest.approx(1 / 8) and float(
        fixed["lstm.cell_state"][0]
    ) != pytest.approx(1 / 8)

    export_scheme(trained, "wfc3", tmp_path / "f.safetensors", vocab)
    only_cell = artifact.read(tmp_path / "f.safetensors")
    assert (
        only_cell.weights == {}
        and list(only_cell.activations) == ["lstm.cell_state"]
        and only_cell.activations["lstm.cell_state"][1] == 3
    )
    assert torch.equal(only_cell.weight("lstm.weight_hh"), trained.lstm.weight_hh_l0.detach())

    export_scheme(trained, "w4h8e", tmp_path / "h.safetensors", vocab)
    hidden = artifact.read(tmp_path / "h.safetensors").activations
    assert hidden["lstm.output"][1] == 8 and hidden["head_input"][1] == 4 and hidden["lstm.cell_state"][1] == 4


def test_artifact_holds_brevitas_integers_at_their_bit_width(trained, tmp_path, vocab):
    q, _ = export(trained, 3, tmp_path / "m.safetensors", vocab, gpfq=False)
    read = artifact.read(tmp_path / "m.safetensors")
    embedding = read.weights["embedding.weight"]
    assert embedding.bits == 3 and torch.equal(embedding.integers, q.embedding.quant_weight().int().to(torch.int32))
    assert embedding.integers.abs().max() <= 3  # narrow range at 3 bits
    assert read.activations["lstm.input_sigmoid"][1:] == (3, False) and read.activations["lstm.cell_state"][1:] == (
        3,
        True,
    )
    gates = read.weights["lstm.weight_hh"]
    assert gates.scale.shape == (4,) and gates.integers.shape == (4 * HP["hidden_dim"], HP["hidden_dim"])


@pytest.mark.parametrize("narrow", [True, False])
@pytest.mark.parametrize("bits", [2, 3, 4, 7, 8, 16])
def test_pack_round_trips(bits, narrow):
    low, high = artifact.weight_range(bits, narrow)
    assert (low, high) == ((-(2 ** (bits - 1)) + narrow, 2 ** (bits - 1) - 1))
    values = torch.tensor(
        [low, high, 0, -1 if bits > 1 else 0, *np.random.default_rng(bits).integers(low, high + 1, 1001)]
    )
    packed = artifact.pack(values, bits, narrow)
    assert packed.numel() == (values.numel() * bits + 7) // 8
    assert torch.equal(artifact.unpack(packed, bits, [values.numel()], narrow), values.to(torch.int32))
    with pytest.raises(artifact.ArtifactError, match="cannot be stored"):
        artifact.pack(torch.tensor([high + 1]), bits, narrow)
    with pytest.raises(artifact.ArtifactError, match="cannot be stored"):
        artifact.pack(torch.tensor([low - 1]), bits, narrow)


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def exported(trained, tmp_path, vocab):
    export(trained, 4, tmp_path / "m.safetensors", vocab, gpfq=False)
    return tmp_path / "m.safetensors", trained.kind


def test_wrong_kind_or_vocabulary_is_refused(exported, tmp_path, vocab):
    path, kind = exported
    other = "generative" if kind == "discriminative" else "discriminative"
    with pytest.raises(artifact.ArtifactError, match=f"holds a {kind} model, but a {other} model is expected"):
        engine.load(path, kind=other, vocab_file=vocab)
    Tokenizer([*SPECIALS, *(f"x{i}" for i in range(V - len(SPECIALS)))], max_len=30).save(tmp_path / "other.json")
    with pytest.raises(artifact.ArtifactError, match="another vocabulary"):
        engine.load(path, kind=kind, vocab_file=tmp_path / "other.json")
    with pytest.raises(ValueError, match="outside this model's vocabulary"):
        engine.load(path).class_scores(torch.tensor([[2, V + 5, 3]]), torch.tensor([3]))


def test_truncated_or_edited_files_are_refused(exported, tmp_path):
    path, _ = exported
    data = path.read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(artifact.ArtifactError, match="not a readable safetensors file"):
        engine.load(tmp_path / "truncated.safetensors")
    flipped = bytearray(data)
    flipped[-3] ^= 0x10  # one bit of the last tensor
    (tmp_path / "flipped.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(artifact.ArtifactError, match="does not match its checksum"):
        engine.load(tmp_path / "flipped.safetensors")
    header_length = struct.unpack("<Q", data[:8])[0]
    edited = data[: 8 + header_length].replace(b'\\"bits\\": 4', b'\\"bits\\": 3', 1) + data[8 + header_length :]
    assert edited != data
    (tmp_path / "edited.safetensors").write_bytes(edited)
    with pytest.raises(artifact.ArtifactError, match="does not match its checksum"):
        engine.load(tmp_path / "edited.safetensors")
    (tmp_path / "foreign.safetensors").write_bytes(b"not a model at all")
    with pytest.raises(artifact.ArtifactError, match="not a readable"):
        engine.load(tmp_path / "foreign.safetensors")
    with pytest.raises(FileNotFoundError, match="snakemake"):
        engine.load(tmp_path / "missing.safetensors")


def test_unsupported_bit_width_is_refused(exported, tmp_path):
    """A well-formed file from a writer that allows a bit width this engine does not run."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path, _ = exported
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()[artifact.METADATA_KEY])
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    header["activations"]["head_input"]["bits"] = 32
    header["sha256"] = content_sha256(header, tensors)
    save_file(tensors, str(tmp_path / "wide.safetensors"), metadata={artifact.METADATA_KEY: json.dumps(header)})
    with pytest.raises(artifact.ArtifactError, match="bit width 32 is not supported"):
        engine.load(tmp_path / "wide.safetensors")
    with pytest.raises(artifact.ArtifactError, match="bit width 1 is not supported"):
        artifact.check_bits(1, "x")


def test_noise_cell_runs_the_artifact_without_importing_brevitas(exported, tmp_path, vocab):
    path, kind = exported
    test = documents(20, seed=3)
    write_frame(tmp_path / "eps0.parquet", pd.DataFrame({"ids": [list(map(int, d)) for d in test.ids],
                "label": test.labels, "corrupted_chars": 0, "eligible_chars": 10, "words": 5, "unknown_words": 0,
                "became_unknown": 0, "changed_words": 0}))  # fmt: skip
    write_json(tmp_path / "fp32.json", {"accuracy": 1.0})
    code = f"""
import sys
from lstmptq.stages.noise import evaluate_curve
[cell] = evaluate_curve({kind!r}, [0.0], [{str(tmp_path / "eps0.parquet")!r}], [{str(tmp_path / "cell.json")!r}],
                        "char_substitution", artifact={str(path)!r}, vocab_file={str(vocab)!r},
                        strategy="balanced", method="plain", bits=4, fp32_cells=[{str(tmp_path / "fp32.json")!r}])
assert "brevitas" not in sys.modules, "the noise cell imported brevitas"
assert "sklearn" not in sys.modules, "the noise cell imported scikit-learn"
print(cell["accuracy"], cell["startup_seconds"])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    accuracy, startup = map(float, done.stdout.split())
    _, scores = predict(engine.load(path), test, 64, "cpu")
    assert accuracy == (scores.argmax(1) == test.labels).mean() and startup > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_engine_on_cuda_replays_its_step_from_a_graph_and_matches_the_cpu(exported):
    path, kind = exported
    test = documents(300, seed=6)
    _, on_cpu = predict(engine.load(path), test, 64, "cpu")
    model = engine.load(path).to("cuda")
    _, on_gpu = predict(model, test, 64, "cuda")
    assert model.lstm._graphs, "the recurrent step did not run from a CUDA graph"
    check = engine.agreement(on_cpu, on_gpu)
    assert check["within_tolerance"] and check["unexplained_disagreements"] == 0, check
