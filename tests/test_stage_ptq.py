"""The PTQ cell's phases (lstmptq.stages.ptq), each run alone on a small model and its files."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

import lstmptq.quant.build as build
import lstmptq.quant.state as state
from lstmptq.data.tokenizer import Tokenizer
from lstmptq.io import write_frame, write_json
from lstmptq.models.checkpoint import build_model, save_checkpoint
from lstmptq.stages import ptq

K = 3
HP = {"embedding_dim": 8, "hidden_dim": 8, "label_embedding_dim": 4, "prior": "empirical", "dropout": 0.0}
WORDS = [f"w{i}" for i in range(20)]


@pytest.fixture(params=["discriminative", "generative"])
def cell_files(request, tmp_path):
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(2, 10))) for _ in range(60)]
    labels = rng.integers(0, K, size=60)
    tokenizer = Tokenizer.build(texts, 1, 100, 20)
    tokenizer.save(tmp_path / "vocab.json")
    for split in ("train", "test"):
        write_frame(tmp_path / f"{split}.parquet", pd.DataFrame({"ids": tokenizer.encode_many(texts), "label": labels}))
    torch.manual_seed(0)
    model = build_model(request.param, len(tokenizer), K, HP, labels)
    meta = {
        "kind": request.param,
        "vocab_size": len(tokenizer),
        "num_classes": K,
        "label_names": ["a", "b", "c"],
        "model": HP,
        "seed": 0,
    }
    save_checkpoint(tmp_path / "model.pt", model, meta)
    write_json(tmp_path / "fp32.json", {"accuracy": 0.5, "flags": ["small_test_set"]})
    subset = {"strategy": "random", "size": 30, "indices": list(range(0, 60, 2)), "composition": {}, "flags": []}
    write_json(tmp_path / "calibration.json", subset)
    return tmp_path


def load(files):
    return ptq.load(
        files / "model.pt",
        files / "fp32.json",
        files / "train.parquet",
        files / "test.parquet",
        files / "calibration.json",
        8,
        torch.device("cpu"),
    )


def test_load_reads_the_model_subset_and_test_set(cell_files):
    cell = load(cell_files)
    assert sum(len(ids) for ids, _ in cell.batches) == 30 and len(cell.test) == 60
    assert cell.family.GPFQ_LAYER in dict(cell.model.named_modules())
    assert cell.flags == ["small_test_set"]  # inherited from the FP32 model


def test_load_refuses_a_subset_for_another_training_split(cell_files):
    subset = json.loads((cell_files / "calibration.json").read_text())
    write_json(cell_files / "calibration.json", {**subset, "indices": [0, 600]})
    with pytest.raises(ValueError, match="indices beyond the 60 training documents"):
        load(cell_files)


def test_load_draws_a_fixed_verification_sample(cell_files):
    cell = load(cell_files)
    again = ptq.load(
        cell_files / "model.pt",
        cell_files / "fp32.json",
        cell_files / "train.parquet",
        cell_files / "test.parquet",
        cell_files / "calibration.json",
        8,
        "cpu",
        20,
    )
    assert len(cell.sample) == 60 and len(again.sample) == 20  # never more than the test set
    assert len(set(again.sample)) == 20 and set(again.sample) <= set(cell.sample)


def test_each_phase_alone(cell_files):
    cell = load(cell_files)
    qmodel = build.quantize_model(cell.model, build.Plan.uniform(4))
    reference = ptq.float_reference(cell, qmodel)
    assert reference["max_abs_score_difference"] < 1e-4 and reference["prediction_agreement"] == 1.0

    assert state.activation_thresholds(qmodel) == {}
    assert ptq.calibrate(cell, qmodel, build.Plan.uniform(4)) > 0
    assert state.activation_thresholds(qmodel)

    head = cell.family.GPFQ_LAYER
    nearest = state.quantized_weights(qmodel)[head][0].clone()
    ptq.apply_method(cell, qmodel, "plain")
    assert torch.equal(state.quantized_weights(qmodel)[head][0], nearest)
    ptq.apply_method(cell, qmodel, "gpfq")
    assert not torch.equal(state.quantized_weights(qmodel)[head][0], nearest)  # GPFQ rounds differently

    artifact = cell_files / "quantized.safetensors"
    assert (
        ptq.export(cell, qmodel.cpu(), artifact, cell_files / "vocab.json", {"scheme": "w4"}) == artifact.stat().st_size
    )
    metrics, scores, _ = ptq.measure(cell, artifact)
    assert scores.shape == (60, K) and 0 <= metrics["accuracy"] <= 1

    check = ptq.verify(cell, qmodel, scores)
    assert check["prediction_agreement"] == 1.0 and check["documents"] == 60
    shifted = scores.copy()
    shifted[:, 0] += 1.0  # scores that Brevitas does not reproduce
    with pytest.raises(RuntimeError, match="differ from Brevitas"):
        ptq.verify(cell, qmodel, shifted)


def test_export_refuses_another_vocabulary(cell_files):
    cell = load(cell_files)
    qmodel = build.quantize_model(cell.model, build.Plan.uniform(4))
    ptq.calibrate(cell, qmodel, build.Plan.uniform(4))
    Tokenizer.build(["x y"], 1, 10, 20).save(cell_files / "other.json")
    with pytest.raises(ValueError, match="retrain it"):
        ptq.export(cell, qmodel, cell_files / "q.safetensors", cell_files / "other.json", {})
