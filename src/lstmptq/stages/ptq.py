"""PTQ stage: one cell = dataset x classifier x seed x calibration strategy x method x bit width.

A cell runs in named phases, each a function of its own (and testable alone):

    load -> quantize -> float reference -> calibrate -> PTQ method (e.g. GPFQ) -> measure
         -> export (the artifact) -> verify (engine vs Brevitas) -> save (quantized.pt, metrics.json)

Brevitas runs inside `quantize`, `calibrate` and the method (through lstmptq.quant and the
classifier's family); the artifact is scored by the plain-PyTorch engine and compared with
Brevitas' scores, and the cell fails, leaving no artifact, if they disagree beyond float rounding.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..io import atomic_path, provenance, read_frame, read_json, write_json

log = logging.getLogger(__name__)


@dataclass
class Cell:
    """What a PTQ cell works on: the FP32 model, its family and metrics, the calibration
    batches and the test set."""

    model: Any
    meta: dict[str, Any]
    family: Any
    fp32: dict[str, Any]
    subset: dict[str, Any]
    batches: list
    test: Any
    batch_size: int
    device: Any

    @property
    def flags(self) -> list[str]:
        """A cell inherits its model's and its calibration subset's flags."""
        return sorted({*self.fp32["flags"], *self.subset["flags"]})


def load(checkpoint, fp32_metrics_file, train_tokens, test_tokens, calibration_file, batch_size: int, device) -> Cell:
    """Phase `load`: the FP32 model (seeded from its training seed), its metrics, the calibration
    subset as batches, and the test set."""
    from ..models import load_checkpoint
    from ..registry import family
    from ..runtime import seed_everything
    from ..training import Encoded, collate, sorted_batches

    model, meta = load_checkpoint(checkpoint)
    model.eval()
    seed_everything(meta["seed"])
    subset = read_json(calibration_file)
    train = Encoded.from_frame(read_frame(train_tokens))
    test = Encoded.from_frame(read_frame(test_tokens))
    index = subset["indices"]
    if index and max(index) >= len(train):
        raise ValueError(f"{calibration_file}: indices beyond the {len(train)} training documents; rebuild it")
    calib = Encoded([train.ids[i] for i in index], train.labels[index])
    batches = [collate(calib, b, device)[:2] for b in sorted_batches(calib.lengths, batch_size)]
    return Cell(model, meta, family(meta["kind"]), read_json(fp32_metrics_file), subset, batches, test, batch_size, device)


def float_reference(cell: Cell, qmodel) -> dict[str, float]:
    """Phase `float reference`: the quantized graph with every quantizer off must score like FP32."""
    from .. import quant
    from ..training import predict

    with quant.float_reference(qmodel) as reference:
        predictions, scores = predict(reference, cell.test, cell.batch_size, cell.device)
    _, fp32_scores = predict(cell.model.to(cell.device), cell.test, cell.batch_size, cell.device)
    result = {
        "accuracy": float((predictions == cell.test.labels).mean()),
        "fp32_accuracy": cell.fp32["accuracy"],
        "max_abs_score_difference": float(abs(scores - fp32_scores).max()),
    }
    log.info("float reference (quantizers off): %s", result)
    return result


def calibrate(cell: Cell, qmodel) -> float:
    """Phase `calibrate`: activation scales from the calibration batches; returns seconds."""
    from .. import quant

    start = time.perf_counter()
    quant.calibrate(qmodel, cell.batches)
    return time.perf_counter() - start


def apply_method(cell: Cell, qmodel, base_method: str) -> float:
    """Phase `PTQ method` (registry.PTQ_METHODS, e.g. GPFQ on the final layer); returns seconds."""
    from ..registry import lookup

    start = time.perf_counter()
    lookup("ptq_methods", base_method)(qmodel, cell.family, cell.batches)
    return time.perf_counter() - start


def measure(cell: Cell, qmodel) -> tuple[dict[str, Any], Any, float]:
    """Phase `measure`: Brevitas' quantized model on the test set: (metrics, scores, seconds)."""
    from ..metrics import classification_metrics
    from ..training import predict

    start = time.perf_counter()
    predictions, scores = predict(qmodel, cell.test, cell.batch_size, cell.device)
    seconds = time.perf_counter() - start
    return classification_metrics(cell.test.labels, predictions, cell.meta["label_names"]), scores, seconds


def export(cell: Cell, qmodel, artifact_file, vocab_file, header: dict[str, Any]) -> int:
    """Phase `export`: the Brevitas-free artifact (the family's `export`); returns its bytes.
    The vocabulary's fingerprint goes into the header, so noise cells can check what they feed it."""
    from ..tokenizer import Tokenizer

    tokenizer = Tokenizer.load(vocab_file)
    if len(tokenizer) != cell.meta["vocab_size"]:
        raise ValueError(f"{vocab_file}: {len(tokenizer)} tokens, but the model was trained on {cell.meta['vocab_size']}; retrain it")
    vocab = {"vocab": {"size": len(tokenizer), "sha256": tokenizer.sha256(), "file": str(vocab_file)}}
    return cell.family.export(qmodel, artifact_file, {**vocab, **header})


def verify(cell: Cell, artifact_file, brevitas_scores) -> dict[str, Any]:
    """Phase `verify`: the engine's scores on the test set against Brevitas'; raises beyond float rounding."""
    from .. import engine
    from ..training import predict

    start = time.perf_counter()
    # no vocabulary check: `export` took the header's fingerprint from the same vocabulary
    _, engine_scores = predict(engine.load(artifact_file, kind=cell.meta["kind"]).to(cell.device), cell.test, cell.batch_size, cell.device)
    check = {**engine.agreement(brevitas_scores, engine_scores), "test_seconds": time.perf_counter() - start}
    log.info("engine vs Brevitas on the test set: %s", check)
    if not check["within_tolerance"] or check["unexplained_disagreements"]:
        raise RuntimeError(f"{artifact_file}: the engine's scores differ from Brevitas' beyond float rounding: {check}")
    return check


def quantize_cell(
    checkpoint: str | Path,
    fp32_metrics_file: str | Path,
    train_tokens: str | Path,
    test_tokens: str | Path,
    vocab_file: str | Path,
    calibration_file: str | Path,
    quantized_file: str | Path,
    artifact_file: str | Path,
    metrics_file: str | Path,
    bits: int,
    method: str,
    percentile: float,
    batch_size: int,
    threads: int = 1,
    device: str = "cpu",
) -> dict[str, Any]:
    """One PTQ cell -> quantized.pt (Brevitas' state, for KS), quantized.safetensors (the artifact
    the noise cells run) and metrics.json."""
    from .. import quant
    from ..grid import parse_method
    from ..runtime import resolve_device, set_threads

    base_method, stage_bits = parse_method(method, bits)
    set_threads(threads)
    torch_device = resolve_device(device)
    cell = load(checkpoint, fp32_metrics_file, train_tokens, test_tokens, calibration_file, batch_size, torch_device)
    log.info("%s, %d bits %s, %s: calibrating on %d documents (%s)", cell.meta["kind"], bits, stage_bits, method, cell.subset["size"], cell.subset["strategy"])
    if cell.flags:
        log.warning("this cell is flagged %s (see the FP32 and calibration logs for why)", cell.flags)

    qmodel = quant.quantize_model(cell.model, stage_bits, percentile).to(torch_device)
    reference = float_reference(cell, qmodel)
    calibration_seconds = calibrate(cell, qmodel)
    method_seconds = apply_method(cell, qmodel, base_method)
    result, scores, test_seconds = measure(cell, qmodel)
    qmodel.cpu()

    fp32_bits = 32 * sum(v.numel() for v in cell.model.state_dict().values() if v.is_floating_point())
    quant_bits = quant.size_bits(qmodel)
    run = provenance(device=str(torch_device), threads=threads, seed=cell.meta["seed"])
    quantization = {"method": method, "base_method": base_method, "strategy": cell.subset["strategy"], "percentile": percentile, "calibration_size": len(cell.subset["indices"])}
    header = {"label_names": cell.meta["label_names"], "stage_bits": stage_bits, "fp32_meta": cell.meta, "quantization": quantization, "provenance": run}
    with atomic_path(artifact_file) as artifact:
        artifact_bytes = export(cell, qmodel, artifact, vocab_file, header)
        engine_check = verify(cell, artifact, scores)
    quant.save_quantized(quantized_file, qmodel, cell.meta, stage_bits, percentile, method)
    metrics = {
        "dataset_split": "test",
        **result,
        "fp32_accuracy": cell.fp32["accuracy"],
        "accuracy_drop": cell.fp32["accuracy"] - result["accuracy"],
        "bits": bits,
        "stage_bits": stage_bits,
        "method": method,
        "base_method": base_method,
        "strategy": cell.subset["strategy"],
        "calibration_size": quantization["calibration_size"],
        "calibration_composition": cell.subset["composition"],
        "flags": cell.flags,
        "percentile": percentile,
        "size_bits": quant_bits,
        "fp32_size_bits": fp32_bits,
        "compression_ratio": fp32_bits / quant_bits,
        "calibration_seconds": calibration_seconds,
        "method_seconds": method_seconds,
        "test_seconds": test_seconds,
        "float_reference": reference,
        "activation_thresholds": quant.activation_thresholds(qmodel),
        "weight_scales": {name: scale for name, (_, scale, _) in quant.quantized_weights(qmodel).items()},
        "artifact_bytes": artifact_bytes,
        "engine_check": engine_check,
        "config": cell.meta,
        "provenance": run,
    }
    write_json(metrics_file, metrics)
    log.info(
        "test accuracy %.4f (FP32 %.4f, drop %+.4f); %.2fx smaller; calibration %.1fs, %s %.1fs",
        result["accuracy"], cell.fp32["accuracy"], metrics["accuracy_drop"], metrics["compression_ratio"], calibration_seconds, base_method, method_seconds,
    )  # fmt: skip
    return metrics
