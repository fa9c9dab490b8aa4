"""PTQ stage: one cell = dataset x classifier x seed x calibration strategy x method x bit width.

A cell runs in named phases, each a function of its own (and testable alone):

    load -> quantize -> float reference (one batch) -> calibrate -> PTQ method (e.g. GPFQ)
         -> export (the artifact) -> measure (the engine on the test set)
         -> verify (engine vs Brevitas on the sample) -> diagnose (per quantizer, on the sample)
         -> save (quantized.pt, metrics.json)

Brevitas builds the quantized model and owns every number in it: the thresholds and GPFQ's
inputs come from plain-PyTorch passes that reproduce Brevitas' own (lstmptq.quant.passes, tested
equal), and Brevitas' quantized forward runs only on a fixed, seeded verification sample of the
test set. The artifact is scored by the plain-PyTorch engine, whose scores must match Brevitas' on
that sample up to float rounding, or the cell fails and leaves no artifact.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmptq.data.tokenizer import Tokenizer
from lstmptq.evaluation.metrics import classification_metrics
from lstmptq.grid import bits_of, inapplicable, parse_method
from lstmptq.io import atomic_path, provenance, read_frame, read_json, write_json
from lstmptq.models.checkpoint import load_checkpoint
from lstmptq.models.training import Encoded, collate, predict, sorted_batches
from lstmptq.quant import diagnostics, engine, methods
from lstmptq.quant.build import Plan, quantize_model
from lstmptq.quant.checkpoint import save_quantized
from lstmptq.quant.state import activation_thresholds, quantized_weights, size_bits
from lstmptq.registry import family, lookup
from lstmptq.runtime import resolve_device, seed_everything, set_threads
from lstmptq.scheme import parse

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
    sample: Any  # indices into the test set: the verification sample

    def documents(self, index):
        """The test documents at `index` (e.g. the verification sample)."""
        return Encoded([self.test.ids[i] for i in index], self.test.labels[index])

    @property
    def flags(self) -> list[str]:
        """A cell inherits its model's and its calibration subset's flags."""
        return sorted({*self.fp32["flags"], *self.subset["flags"]})


VERIFY_SEED = 0  # the verification sample is the same for every cell of a dataset


def load(
    checkpoint,
    fp32_metrics_file,
    train_tokens,
    test_tokens,
    calibration_file,
    batch_size: int,
    device,
    verify_size: int = 64,
) -> Cell:
    """Phase `load`: the FP32 model (seeded from its training seed), its metrics, the calibration
    subset as batches, the test set and its verification sample (`verify_size` documents, seeded)."""
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
    sample = np.sort(np.random.default_rng(VERIFY_SEED).permutation(len(test))[:verify_size])
    return Cell(
        model,
        meta,
        family(meta["kind"]),
        read_json(fp32_metrics_file),
        subset,
        batches,
        test,
        batch_size,
        device,
        sample,
    )


def calibrate(cell: Cell, qmodel, plan) -> float:
    """Phase `calibrate`: activation thresholds from the calibration batches, by each quantizer's
    statistic (lstmptq.quant.methods.calibrate: the fast pass or Brevitas'); returns seconds."""
    start = time.perf_counter()
    methods.calibrate(qmodel, cell.batches, plan)
    return time.perf_counter() - start


def apply_method(cell: Cell, qmodel, base_method: str) -> float:
    """Phase `PTQ method` (registry.PTQ_METHODS, e.g. GPFQ on the final layer); returns seconds."""

    start = time.perf_counter()
    lookup("ptq_methods", base_method)(qmodel, cell.family, cell.batches)
    return time.perf_counter() - start


def export(cell: Cell, qmodel, artifact_file, vocab_file, header: dict[str, Any]) -> int:
    """Phase `export`: the Brevitas-free artifact (the family's `export`); returns its bytes.
    The vocabulary's fingerprint goes into the header, so noise cells can check what they feed it."""

    tokenizer = Tokenizer.load(vocab_file)
    if len(tokenizer) != cell.meta["vocab_size"]:
        raise ValueError(
            f"{vocab_file}: {len(tokenizer)} tokens, but the model was trained on {cell.meta['vocab_size']}; retrain it"
        )
    vocab = {"vocab": {"size": len(tokenizer), "sha256": tokenizer.sha256(), "file": str(vocab_file)}}
    return cell.family.export(qmodel, artifact_file, {**vocab, **header})


def measure(cell: Cell, artifact_file) -> tuple[dict[str, Any], Any, float]:
    """Phase `measure`: the artifact, run by the engine, on the test set: (metrics, scores, seconds)."""
    start = time.perf_counter()
    # no vocabulary check: `export` took the header's fingerprint from the same vocabulary
    model = engine.load(artifact_file, kind=cell.meta["kind"]).to(cell.device)
    predictions, scores = predict(model, cell.test, cell.batch_size, cell.device)
    seconds = time.perf_counter() - start
    return classification_metrics(cell.test.labels, predictions, cell.meta["label_names"]), scores, seconds


def verify(cell: Cell, qmodel, engine_scores) -> dict[str, Any]:
    """Phase `verify`: Brevitas' quantized model on the verification sample against the engine's
    scores of the same documents; raises beyond float rounding."""
    start = time.perf_counter()
    _, brevitas_scores = predict(qmodel, cell.documents(cell.sample), cell.batch_size, cell.device)
    check = {
        **engine.agreement(brevitas_scores, engine_scores[cell.sample]),
        "documents": len(cell.sample),
        "sample_seed": VERIFY_SEED,
        "seconds": time.perf_counter() - start,
    }
    log.info("engine vs Brevitas on %d test documents: %s", len(cell.sample), check)
    if not check["within_tolerance"] or check["unexplained_disagreements"]:
        raise RuntimeError(f"the engine's scores differ from Brevitas' beyond float rounding: {check}")
    return check


def diagnose(cell: Cell, artifact_file) -> dict[str, Any]:
    """Phase `diagnose`: per quantization point, the dead-zone and clipped shares and the SQNR
    against the FP32 model on the verification sample (lstmptq.quant.diagnostics; on the CPU)."""
    start = time.perf_counter()
    quantized = engine.load(artifact_file, kind=cell.meta["kind"]).cpu().eval()
    result = diagnostics.quantizer_diagnostics(quantized, methods.float_twin(cell.model), cell.documents(cell.sample))
    result["seconds"] = time.perf_counter() - start
    return result


def float_reference(cell: Cell, qmodel) -> dict[str, Any]:
    """Phase `float reference`: the quantized graph with every quantizer off must score like FP32.
    A check of the graph, not of the data: one batch of the verification sample suffices."""
    documents = cell.documents(cell.sample[: cell.batch_size])
    with methods.float_reference(qmodel) as reference:
        predictions, scores = predict(reference, documents, cell.batch_size, cell.device)
    fp32_predictions, fp32_scores = predict(cell.model.to(cell.device), documents, cell.batch_size, cell.device)
    result = {
        "documents": len(documents),
        "prediction_agreement": float((predictions == fp32_predictions).mean()),
        "max_abs_score_difference": float(abs(scores - fp32_scores).max()),
    }
    log.info("float reference (quantizers off) vs FP32: %s", result)
    return result


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
    scheme: str,
    method: str,
    percentile: float,
    batch_size: int,
    verify_size: int = 64,
    threads: int = 1,
    device: str = "cpu",
    recipe: str = "uniform",
    percentiles: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One PTQ cell -> quantized.pt (Brevitas' state, for KS), quantized.safetensors (the artifact
    the noise cells run) and metrics.json. `recipe` names the cell's recipe (lstmptq.recipes);
    `percentiles` are its per-class percentiles (the rest take `percentile`)."""
    base_method, keep_8bit = parse_method(method)
    plan = Plan(parse(scheme), percentile, keep_8bit, tuple(sorted((percentiles or {}).items())))
    set_threads(threads)
    torch_device = resolve_device(device)
    cell = load(
        checkpoint,
        fp32_metrics_file,
        train_tokens,
        test_tokens,
        calibration_file,
        batch_size,
        torch_device,
        verify_size,
    )
    if reason := inapplicable(cell.meta["kind"], method, scheme):  # a cell named by hand: the grid has none
        raise ValueError(f"{metrics_file}: {reason}; the grid does not cross them, so name another cell")
    log.info(
        "%s, scheme %s (%s), %s: calibrating on %d documents (%s)",
        cell.meta["kind"],
        scheme,
        plan.scheme.describe(getattr(cell.family, "SCHEME_CLASSES", None)),
        method,
        cell.subset["size"],
        cell.subset["strategy"],
    )
    if cell.flags:
        log.warning("this cell is flagged %s (its calibration subset's log says why)", cell.flags)

    qmodel = quantize_model(cell.model, plan).to(torch_device)
    reference = float_reference(cell, qmodel)
    calibration_seconds = calibrate(cell, qmodel, plan)
    method_seconds = apply_method(cell, qmodel, base_method)
    qmodel.cpu()

    fp32_bits = 32 * sum(v.numel() for v in cell.model.state_dict().values() if v.is_floating_point())
    quant_bits = size_bits(qmodel)
    run = provenance(device=str(torch_device), threads=threads, seed=cell.meta["seed"])
    quantization = {
        "method": method,
        "base_method": base_method,
        "strategy": cell.subset["strategy"],
        "recipe": recipe,
        **plan.describe(),
        "calibration_size": len(cell.subset["indices"]),
    }
    header = {
        "label_names": cell.meta["label_names"],
        "scheme": scheme,
        "fp32_meta": cell.meta,
        "quantization": quantization,
        "provenance": run,
    }
    with atomic_path(artifact_file) as artifact:
        artifact_bytes = export(cell, qmodel, artifact, vocab_file, header)
        result, scores, test_seconds = measure(cell, artifact)
        qmodel.to(torch_device)
        engine_check = verify(cell, qmodel, scores)
        qmodel.cpu()
        diagnostics = diagnose(cell, artifact)
    save_quantized(quantized_file, qmodel, cell.meta, plan, method)
    metrics = {
        "dataset_split": "test",
        **result,
        "fp32_accuracy": cell.fp32["accuracy"],
        "accuracy_drop": cell.fp32["accuracy"] - result["accuracy"],
        "bits": bits_of(scheme),
        "recipe": recipe,
        "scheme": scheme,
        "classes": plan.scheme.describe(getattr(cell.family, "SCHEME_CLASSES", None)),
        "keep_8bit": keep_8bit,
        "method": method,
        "base_method": base_method,
        "strategy": cell.subset["strategy"],
        "calibration_size": quantization["calibration_size"],
        "calibration_composition": cell.subset["composition"],
        "flags": cell.flags,
        "percentile": percentile,
        "percentiles": dict(plan.percentiles),
        "size_bits": quant_bits,
        "fp32_size_bits": fp32_bits,
        "compression_ratio": fp32_bits / quant_bits,
        "calibration_seconds": calibration_seconds,
        "method_seconds": method_seconds,
        "test_seconds": test_seconds,
        "verify_seconds": engine_check["seconds"],
        "diagnose_seconds": diagnostics["seconds"],
        "float_reference": reference,
        "activation_thresholds": activation_thresholds(qmodel),
        "weight_scales": {
            name: scale.tolist() if scale.numel() > 1 else float(scale)
            for name, (_, scale, _) in quantized_weights(qmodel).items()
        },
        "artifact_bytes": artifact_bytes,
        "activation_bits_per_token": diagnostics["activation_bits_per_token"],
        "diagnostics": diagnostics,
        "engine_check": engine_check,
        "config": cell.meta,
        "provenance": run,
    }
    write_json(metrics_file, metrics)
    log.info(
        "test accuracy %.4f (FP32 %.4f, drop %+.4f); %.2fx smaller; calibration %.1fs, %s %.1fs",
        result["accuracy"], cell.fp32["accuracy"], metrics["accuracy_drop"], metrics["compression_ratio"],
        calibration_seconds, base_method, method_seconds,
    )  # fmt: skip
    return metrics
