"""Noise stage: noisy test sets per noise model and eps, and one evaluation cell per model x
noise model x eps.

A noisy test set is built once per dataset, noise model and eps (shared by every model), from
the raw test text, with the same tokenizer and vocabulary as the clean text. A noise model
(registry.NOISE_MODELS) changes characters but keeps word boundaries, so clean and noisy tokens
align one to one. An evaluation cell scores one model (FP32, or a PTQ cell's quantized model)
on one noisy test set; one job scores a model's whole curve (every eps, one file per cell), so
the model is loaded once.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from lstmptq.data.tokenizer import UNK_ID, Tokenizer
from lstmptq.grid import FP32, FP32_BITS, format_eps
from lstmptq.io import provenance, read_frame, read_json, write_frame, write_json

# The torch side (models, engine, metrics) is imported inside the evaluation functions: the noisy
# test set jobs of this stage run without torch.
from lstmptq.registry import lookup
from lstmptq.runtime import process_seconds, resolve_device, set_threads

log = logging.getLogger(__name__)


def noisy_test_set(
    data_file: str | Path,
    vocab_file: str | Path,
    out_file: str | Path,
    noise: str,
    settings: dict[str, Any],
    eps: float,
    seed: int,
) -> dict[str, Any]:
    """Raw test text -> one noisy test set: ids, label and per-document noise counts.
    `settings` is the noise model's definition (its `kind` names the model)."""
    return noisy_test_sets(data_file, vocab_file, [out_file], noise, settings, [eps], seed)[0]


def noisy_test_sets(
    data_file, vocab_file, out_files: list, noise: str, settings: dict[str, Any], eps: list[float], seed: int
) -> list[dict[str, Any]]:
    """`noisy_test_set` at each level in `eps` (one file each, `out_files`); text and vocabulary read once."""
    model = lookup("noise_models", settings["kind"])
    options = {k: v for k, v in settings.items() if k != "kind"}
    model.check(options)
    tokenizer = Tokenizer.load(vocab_file)
    frame = read_frame(data_file)
    clean = [tokenizer.encode(text) for text in frame["text"]]
    return [
        _noisy_table(frame, clean, tokenizer, model, options, out, noise, level, seed, data_file)
        for out, level in zip(out_files, eps)
    ]


def _noisy_table(
    frame: pd.DataFrame,
    clean: list,
    tokenizer,
    model,
    options: dict,
    out_file,
    noise: str,
    eps: float,
    seed: int,
    data_file,
) -> dict[str, Any]:
    rows = []
    for document, text in enumerate(frame["text"]):
        noisy = model.corrupt(text, eps, seed, document, **options)
        clean_ids, noisy_ids = clean[document], tokenizer.encode(noisy.text)
        # substitutions keep word boundaries, so clean and noisy tokens align one to one
        if len(clean_ids) != len(noisy_ids):
            raise RuntimeError(
                f"{data_file}: document {document}: noise model {noise!r} changed the number of tokens ({options})"
            )
        pairs = list(zip(clean_ids[1:-1], noisy_ids[1:-1]))
        rows.append(
            {
                "ids": noisy_ids,
                "label": frame["label"].iat[document],
                "corrupted_chars": noisy.corrupted,
                "eligible_chars": noisy.eligible,
                "words": len(pairs),
                "unknown_words": sum(n == UNK_ID for _, n in pairs),
                "became_unknown": sum(c != UNK_ID and n == UNK_ID for c, n in pairs),
                "changed_words": sum(c != n for c, n in pairs),
            }
        )
    table = pd.DataFrame(rows)
    write_frame(out_file, table)
    summary = noise_summary(table)
    log.info("%s at eps %s (seed %d): %s", noise, format_eps(eps), seed, summary)
    return summary


def noise_summary(table: pd.DataFrame) -> dict[str, float]:
    """What the noise did to a test set: realised corruption rate and token-level effects."""
    words = max(int(table["words"].sum()), 1)
    return {
        "corruption_rate": float(table["corrupted_chars"].sum() / max(int(table["eligible_chars"].sum()), 1)),
        "unknown_share": float(table["unknown_words"].sum() / words),
        "became_unknown_share": float(table["became_unknown"].sum() / words),
        "changed_word_share": float(table["changed_words"].sum() / words),
    }


def load_cell_model(
    kind: str, checkpoint: str | Path | None, artifact: str | Path | None, vocab_file: str | Path | None
):
    """(model, FP32 meta) for a noise cell: the FP32 checkpoint, or a PTQ cell's artifact run by
    the plain-PyTorch engine (no brevitas import), checked against `kind` and the vocabulary."""
    if artifact is not None:
        from lstmptq.quant.engine import load

        model = load(artifact, kind=kind, vocab_file=vocab_file)
        return model, model.header["fp32_meta"]
    from lstmptq.models.checkpoint import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    if meta["kind"] != kind:
        raise ValueError(f"{checkpoint}: holds a {meta['kind']} model, but a {kind} model is expected here; retrain it")
    return model.eval(), meta


def evaluate_curve(
    kind: str,
    eps: list[float],
    noisy_files: list[str | Path],
    out_files: list[str | Path],
    noise: str,
    checkpoint: str | Path | None = None,
    artifact: str | Path | None = None,
    vocab_file: str | Path | None = None,
    strategy: str = FP32,
    method: str = FP32,
    recipe: str = FP32,
    bits: int = FP32_BITS,
    fp32_cells: list[str | Path] | None = None,
    batch_size: int = 64,
    threads: int = 1,
    device: str = "cpu",
) -> list[dict[str, Any]]:
    """One model's noise curve: its accuracy on the test set under noise model `noise` at each
    level in `eps` (one cell file each, `out_files`): the FP32 `checkpoint`, or the quantized
    `artifact` of a PTQ cell (strategy, method, recipe and bits label that cell). The model is loaded once.

    Drops are taken against the same model at eps 0 (a level of every curve) and, for a quantized
    model, against the FP32 model's cell at the same eps (`fp32_cells`).
    """

    quantized = artifact is not None
    if quantized == (checkpoint is not None):
        raise ValueError("a noise curve scores either an FP32 checkpoint or a quantized artifact")
    if 0 not in eps:
        raise ValueError(f"a noise curve needs eps 0 (its clean reference), got {eps}")
    if quantized and (fp32_cells is None or len(fp32_cells) != len(eps)):
        raise ValueError("a quantized model's noise curve needs the FP32 cell at each eps")
    set_threads(threads)
    torch_device = resolve_device(device)
    start = time.perf_counter()
    model, meta = load_cell_model(kind, checkpoint, artifact, vocab_file)
    model.to(torch_device)
    load_seconds = time.perf_counter() - start
    startup_seconds = process_seconds()  # interpreter, imports and model: the fixed cost, once per curve
    cell = {
        "model": meta["kind"], "seed": meta["seed"], "strategy": strategy, "method": method,
        "recipe": recipe, "bits": bits, "noise": noise,
        "config": meta, "load_seconds": load_seconds, "startup_seconds": startup_seconds,
        "engine": "lstmptq.quant.engine (artifact)" if quantized else "torch nn.LSTM (FP32 checkpoint)",
        "provenance": provenance(device=str(torch_device), threads=threads, seed=meta["seed"]),
    }  # fmt: skip
    scored = {level: _score(model, meta, noisy, batch_size, torch_device) for level, noisy in zip(eps, noisy_files)}
    clean_accuracy = scored[0][0]["accuracy"]
    results = []
    for index, level in enumerate(eps):
        result, summary, score_seconds = scored[level]
        fp32_accuracy = read_json(fp32_cells[index])["accuracy"] if quantized else result["accuracy"]
        metrics = {
            "dataset_split": "test",
            **{k: cell[k] for k in ("model", "seed", "strategy", "method", "recipe", "bits", "noise")},
            "eps": level,
            **result,
            "clean_accuracy": clean_accuracy,
            "drop_vs_clean": clean_accuracy - result["accuracy"],
            "fp32_accuracy_same_eps": fp32_accuracy,
            "drop_vs_fp32": fp32_accuracy - result["accuracy"],
            **summary,
            "score_seconds": score_seconds,
            **{k: cell[k] for k in ("load_seconds", "startup_seconds", "config", "engine", "provenance")},
        }
        write_json(out_files[index], metrics)
        results.append(metrics)
        log.info(
            "%s %s, %s at eps %s: accuracy %.4f (drop %+.4f vs eps 0, %+.4f vs FP32); "
            "corruption %.4f, unknown %.4f; scoring %.1fs",
            meta["kind"], FP32 if not quantized else f"{strategy}/{method}/{recipe}/{bits}-bit", noise,
            format_eps(level),
            result["accuracy"], metrics["drop_vs_clean"], metrics["drop_vs_fp32"],
            metrics["corruption_rate"], metrics["unknown_share"], score_seconds,
        )  # fmt: skip
    return results


def _score(model, meta: dict, noisy_file: str | Path, batch_size: int, device) -> tuple[dict, dict, float]:
    """(classification metrics, noise summary, seconds) of a model on one noisy test set."""
    from lstmptq.evaluation.metrics import classification_metrics
    from lstmptq.models.training import Encoded, predict

    table = read_frame(noisy_file)
    data = Encoded.from_frame(table)
    start = time.perf_counter()
    predictions, _ = predict(model, data, batch_size, device)
    seconds = time.perf_counter() - start
    return classification_metrics(data.labels, predictions, meta["label_names"]), noise_summary(table), seconds
