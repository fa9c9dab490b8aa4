"""One function per workflow step: file paths and settings in, files out.

The Snakemake rules call these through thin scripts in workflow/scripts/, and tests or users
can call them directly. Heavy libraries are imported inside the steps that need them, so a
data or table job never pays for torch.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .io import atomic_path, provenance, read_frame, read_json, write_frame, write_json

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


def prepare_data(name: str, spec: dict[str, Any], out_dir: str | Path) -> None:
    """Source -> data/{train,valid,test}.parquet (text, label) + data/labels.json."""
    from .data import load_source

    out_dir = Path(out_dir)
    splits = load_source(name, spec)
    names = splits.label_names
    counts = {}
    for split, frame in splits.frames.items():
        write_frame(out_dir / f"{split}.parquet", frame)
        per_class = frame["label"].value_counts().reindex(range(len(names)), fill_value=0)
        counts[split] = dict(zip(names, per_class.tolist()))
        log.info("%s: %d documents; per class %s", split, len(frame), counts[split])
    write_json(
        out_dir / "labels.json",
        {
            "dataset": name,
            "label_names": names,
            "counts": counts,
            "dropped_empty_texts": splits.dropped_empty,
            "duplicates": splits.duplicates,  # documents shared between splits, see data.check_duplicates
            "decoding": splits.decoding,  # local text files: encoding and bytes replaced by U+FFFD
            "source": spec,
            "provenance": provenance(),
        },
    )


def tokenize(data_dir: str | Path, out_dir: str | Path, settings: dict[str, Any]) -> None:
    """Train-only vocabulary -> tokens/vocab.json, tokens/{split}.parquet (ids, label), stats."""
    from .tokenizer import UNK_ID, Tokenizer

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    frames = {s: read_frame(data_dir / f"{s}.parquet") for s in SPLITS}
    tokenizer = Tokenizer.build(frames["train"]["text"], settings["min_freq"], settings["max_size"], settings["max_len"])
    stats: dict[str, Any] = {"vocab_size": len(tokenizer), "settings": settings}
    for split, frame in frames.items():
        ids = tokenizer.encode_many(frame["text"])
        n_words = [len(x) - 2 for x in ids]
        all_words = sum(n_words)
        unknown = sum(x.count(UNK_ID) for x in ids)
        full_lengths = [len(tokenizer.split(t)) for t in frame["text"]]
        stats[split] = {
            "documents": len(ids),
            "mean_words": all_words / len(ids),
            "truncated_share": sum(n > settings["max_len"] for n in full_lengths) / len(ids),
            "unknown_share": unknown / max(all_words, 1),
        }
        write_frame(out_dir / f"{split}.parquet", pd.DataFrame({"ids": ids, "label": frame["label"]}))
        log.info("%s: %s", split, stats[split])
    tokenizer.save(out_dir / "vocab.json")
    write_json(out_dir / "stats.json", stats)
    log.info("vocabulary: %d types (incl. 4 special tokens)", len(tokenizer))


def train_classifier(
    tokens_dir: str | Path,
    labels_file: str | Path,
    out_dir: str | Path,
    kind: str,
    model_settings: dict[str, Any],
    training_settings: dict[str, Any],
    seed: int,
    checks: dict[str, Any],
    device: str = "auto",
    threads: int = 1,
) -> dict[str, Any]:
    """Train one classifier -> fp32/model.pt, fp32/train_log.csv, fp32/metrics.json."""
    from .flags import dataset_flags
    from .metrics import classification_metrics
    from .models import build_model, log_prior_from, save_checkpoint
    from .runtime import resolve_device, seed_everything, set_threads
    from .tokenizer import Tokenizer
    from .training import Encoded, predict, train

    set_threads(threads)
    seed_everything(seed)
    torch_device = resolve_device(device)
    tokens_dir, out_dir = Path(tokens_dir), Path(out_dir)
    labels = read_json(labels_file)
    label_names = labels["label_names"]
    flags = dataset_flags(labels["counts"], checks)
    vocab_size = len(Tokenizer.load(tokens_dir / "vocab.json"))
    data = {s: Encoded.from_frame(read_frame(tokens_dir / f"{s}.parquet")) for s in SPLITS}

    log_prior = log_prior_from(model_settings["prior"], data["train"].labels, len(label_names)) if kind == "generative" else None
    model = build_model(kind, vocab_size, len(label_names), model_settings, log_prior).to(torch_device)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("%s LSTM: %d parameters, vocabulary %d, %d classes, device %s, %d thread(s)", kind, n_params, vocab_size, len(label_names), torch_device, threads)

    start = time.perf_counter()
    model, history = train(model, data["train"], data["valid"], training_settings, seed, torch_device)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions, _ = predict(model, data["test"], training_settings["batch_size"], torch_device)
    test_seconds = time.perf_counter() - start

    history_frame = pd.DataFrame(history)
    best = history_frame.loc[history_frame["valid_accuracy"].idxmax()]
    meta = {
        "kind": kind,
        "vocab_size": vocab_size,
        "num_classes": len(label_names),
        "label_names": label_names,
        "model": model_settings,
        "training": training_settings,
        "seed": seed,
    }
    metrics = {
        "dataset_split": "test",
        **classification_metrics(data["test"].labels, predictions, label_names),
        "valid_accuracy": float(best["valid_accuracy"]),
        "best_epoch": int(best["epoch"]),
        "epochs_run": len(history),
        "n_parameters": n_params,
        "train_seconds": train_seconds,
        "seconds_per_epoch": float(history_frame["epoch_seconds"].mean()),
        "test_seconds": test_seconds,
        "padded_share": float(history_frame["padded_share"].mean()),
        "flags": flags,
        "config": meta,
        "provenance": provenance(device=str(torch_device), threads=threads, seed=seed),
    }
    model.cpu()
    save_checkpoint(out_dir / "model.pt", model, meta)
    write_frame(out_dir / "train_log.csv", history_frame)
    write_json(out_dir / "metrics.json", metrics)
    log.info("test accuracy %.4f, macro-F1 %.4f", metrics["accuracy"], metrics["macro_f1"])
    return metrics


def tfidf_baseline(data_dir: str | Path, vocab_file: str | Path, out_file: str | Path, seed: int) -> dict[str, Any]:
    """TF-IDF + logistic regression -> baseline/metrics.json (same metrics as the LSTMs)."""
    from .baseline import run_baseline
    from .metrics import classification_metrics
    from .tokenizer import Tokenizer

    data_dir = Path(data_dir)
    frames = {s: read_frame(data_dir / f"{s}.parquet") for s in SPLITS}
    label_names = read_json(data_dir / "labels.json")["label_names"]
    predictions, fit = run_baseline(frames, Tokenizer.load(vocab_file), seed)
    metrics = {
        "dataset_split": "test",
        **classification_metrics(frames["test"]["label"].to_numpy(), predictions, label_names),
        "model": "tfidf_logreg",
        **fit,
        "provenance": provenance(seed=seed),
    }
    write_json(out_file, metrics)
    log.info("TF-IDF + logistic regression: test accuracy %.4f (C=%g)", metrics["accuracy"], fit["C"])
    return metrics


def table_from_metrics(metric_files: list[str], columns: dict[str, str]) -> pd.DataFrame:
    """One row per metrics.json; `columns` maps a column name to a dotted key path in the JSON."""

    def get(metrics: dict, path: str):
        for part in path.split("."):
            metrics = metrics[part]
        return metrics

    return pd.DataFrame([{column: get(read_json(p), key) for column, key in columns.items()} for p in metric_files])


def summarize_fp32(metric_files: list[str], baseline_file: str, out_file: str | Path) -> pd.DataFrame:
    """One row per trained model (and the baseline): test accuracy, macro-F1, training cost."""
    keys = ["accuracy", "macro_f1", "valid_accuracy", "best_epoch", "epochs_run", "seconds_per_epoch", "padded_share", "n_parameters"]
    from .flags import DATASET_FLAGS, joined

    models = table_from_metrics(metric_files, {"model": "config.kind", "seed": "config.seed", **{k: k for k in keys}, "flags": "flags"})
    b = read_json(baseline_file)
    # the baseline shares the models' data, so it shares their dataset-level flags
    baseline_flags = DATASET_FLAGS.intersection(*models["flags"]) if len(models) else set()
    baseline = pd.DataFrame([{"model": "tfidf_logreg", "accuracy": b["accuracy"], "macro_f1": b["macro_f1"], "flags": sorted(baseline_flags)}])
    table = pd.concat([models, baseline], ignore_index=True).astype({"seed": "Int64", "best_epoch": "Int64", "epochs_run": "Int64", "n_parameters": "Int64"})
    table["flags"] = table["flags"].map(joined)
    write_frame(out_file, table)
    log.info("\n%s", table.to_string(index=False))
    return table


def calibration_subset(
    train_file: str | Path, labels_file: str | Path, out_file: str | Path, strategy: str, definition: dict[str, Any], fraction: float, seed: int, batch_size: int
) -> dict[str, Any]:
    """One strategy's calibration subset of the training split -> calibration/seed{seed}/{strategy}.json
    (flagged where it misses a class or is smaller than one PTQ batch of `batch_size`)."""
    from .calibration import sample
    from .flags import calibration_flags

    labels = read_frame(train_file, columns=["label"])["label"].to_numpy()
    dataset = read_json(labels_file)
    subset = sample(labels, dataset["label_names"], fraction, strategy, definition, seed)
    subset["flags"] = calibration_flags(subset, dataset["counts"]["train"], batch_size)
    log.info("strategy %r: %d of %d training documents; composition %s", strategy, subset["size"], len(labels), subset["composition"])
    write_json(out_file, subset)
    return subset


def parse_method(method: str, bits: int) -> tuple[bool, dict[str, int]]:
    """`gpfq`, `plain`, or either with `-<stage>8` (that stage kept at 8 bits): (use GPFQ, stage bits)."""
    from .grid import STAGES

    base, _, keep = method.partition("-")
    if base not in ("gpfq", "plain") or (keep and keep[:-1] not in STAGES) or (keep and not keep.endswith("8")):
        raise ValueError(f"unknown PTQ method {method!r}: use gpfq or plain, optionally with -embedding8, -lstm8 or -head8")
    stage_bits = {stage: bits for stage in STAGES}
    if keep:
        stage_bits[keep[:-1]] = 8
    return base == "gpfq", stage_bits


def quantize_cell(
    checkpoint: str | Path,
    fp32_metrics_file: str | Path,
    tokens_dir: str | Path,
    vocab_file: str | Path,
    calibration_file: str | Path,
    out_dir: str | Path,
    bits: int,
    method: str,
    percentile: float,
    batch_size: int,
    threads: int = 1,
    device: str = "cpu",
) -> dict[str, Any]:
    """One PTQ cell: calibrate on the subset, optionally GPFQ, evaluate -> quantized.pt (Brevitas'
    state, for KS), quantized.safetensors (the artifact the noise cells run) and metrics.json.

    The artifact is scored by the engine on the test set and compared with Brevitas' scores; the
    cell fails, leaving no artifact, if they disagree beyond float rounding.
    """
    from . import engine, quant
    from .metrics import classification_metrics
    from .models import load_checkpoint
    from .runtime import resolve_device, seed_everything, set_threads
    from .tokenizer import Tokenizer
    from .training import Encoded, collate, predict, sorted_batches

    use_gpfq, stage_bits = parse_method(method, bits)
    set_threads(threads)
    torch_device = resolve_device(device)
    model, meta = load_checkpoint(checkpoint)
    model.eval()
    seed_everything(meta["seed"])
    fp32 = read_json(fp32_metrics_file)
    subset = read_json(calibration_file)
    train = Encoded.from_frame(read_frame(Path(tokens_dir) / "train.parquet"))
    test = Encoded.from_frame(read_frame(Path(tokens_dir) / "test.parquet"))
    index = subset["indices"]
    if index and max(index) >= len(train):
        raise ValueError(f"{calibration_file}: indices beyond the {len(train)} training documents; rebuild it")
    calib = Encoded([train.ids[i] for i in index], train.labels[index])
    batches = [collate(calib, b, torch_device)[:2] for b in sorted_batches(calib.lengths, batch_size)]
    log.info("%s, %d bits %s, %s: calibrating on %d documents (%s)", meta["kind"], bits, stage_bits, method, len(calib), subset["strategy"])
    flags = sorted({*fp32["flags"], *subset["flags"]})  # this cell inherits its model's and its subset's
    if flags:
        log.warning("this cell is flagged %s (see the FP32 and calibration logs for why)", flags)

    qmodel = quant.quantize_model(model, stage_bits, percentile).to(torch_device)
    with quant.float_reference(qmodel) as reference:
        ref_predictions, ref_scores = predict(reference, test, batch_size, torch_device)
    _, fp32_scores = predict(model.to(torch_device), test, batch_size, torch_device)
    float_reference = {
        "accuracy": float((ref_predictions == test.labels).mean()),
        "fp32_accuracy": fp32["accuracy"],
        "max_abs_score_difference": float(abs(ref_scores - fp32_scores).max()),
    }
    log.info("float reference (quantizers off): %s", float_reference)

    start = time.perf_counter()
    quant.calibrate(qmodel, batches)
    calibration_seconds = time.perf_counter() - start
    gpfq_seconds = None
    if use_gpfq:
        start = time.perf_counter()
        quant.apply_gpfq(qmodel, batches)
        gpfq_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predictions, scores = predict(qmodel, test, batch_size, torch_device)
    qmodel.cpu()
    eval_seconds = time.perf_counter() - start

    fp32_bits = 32 * sum(v.numel() for v in model.state_dict().values() if v.is_floating_point())
    quant_bits = quant.size_bits(qmodel)
    result = classification_metrics(test.labels, predictions, meta["label_names"])
    metrics = {
        "dataset_split": "test",
        **result,
        "fp32_accuracy": fp32["accuracy"],
        "accuracy_drop": fp32["accuracy"] - result["accuracy"],
        "bits": bits,
        "stage_bits": stage_bits,
        "method": method,
        "gpfq": use_gpfq,
        "strategy": subset["strategy"],
        "calibration_size": len(calib),
        "calibration_composition": subset["composition"],
        "flags": flags,
        "percentile": percentile,
        "size_bits": quant_bits,
        "fp32_size_bits": fp32_bits,
        "compression_ratio": fp32_bits / quant_bits,
        "calibration_seconds": calibration_seconds,
        "gpfq_seconds": gpfq_seconds,
        "test_seconds": eval_seconds,
        "float_reference": float_reference,
        "activation_thresholds": quant.activation_thresholds(qmodel),
        "weight_scales": {name: scale for name, (_, scale, _) in quant.quantized_weights(qmodel).items()},
        "config": meta,
        "provenance": provenance(device=str(torch_device), threads=threads, seed=meta["seed"]),
    }
    out_dir = Path(out_dir)
    tokenizer = Tokenizer.load(vocab_file)
    if len(tokenizer) != meta["vocab_size"]:
        raise ValueError(f"{vocab_file}: {len(tokenizer)} tokens, but {checkpoint} was trained on {meta['vocab_size']}; retrain it")
    header = {
        "vocab": {"size": len(tokenizer), "sha256": tokenizer.sha256(), "file": str(vocab_file)},
        "label_names": meta["label_names"],
        "stage_bits": stage_bits,
        "fp32_meta": meta,
        "quantization": {"method": method, "gpfq": use_gpfq, "strategy": subset["strategy"], "percentile": percentile, "calibration_size": len(calib)},
        "provenance": metrics["provenance"],
    }
    with atomic_path(out_dir / "quantized.safetensors") as artifact:
        metrics["artifact_bytes"] = quant.export_artifact(qmodel, artifact, header)
        start = time.perf_counter()
        # no vocabulary check: the header's fingerprint was taken from `tokenizer` just above
        _, engine_scores = predict(engine.load(artifact, kind=meta["kind"]).to(torch_device), test, batch_size, torch_device)
        metrics["engine_check"] = {**engine.agreement(scores, engine_scores), "test_seconds": time.perf_counter() - start}
        log.info("engine vs Brevitas on the test set: %s", metrics["engine_check"])
        if not metrics["engine_check"]["within_tolerance"] or metrics["engine_check"]["unexplained_disagreements"]:
            raise RuntimeError(f"{out_dir}: the engine's scores differ from Brevitas' beyond float rounding: {metrics['engine_check']}")
    quant.save_quantized(out_dir / "quantized.pt", qmodel, meta, stage_bits, percentile, method)
    write_json(out_dir / "metrics.json", metrics)
    log.info(
        "test accuracy %.4f (FP32 %.4f, drop %+.4f); %.2fx smaller; calibration %.1fs, GPFQ %s",
        result["accuracy"], fp32["accuracy"], metrics["accuracy_drop"], metrics["compression_ratio"], calibration_seconds,
        f"{gpfq_seconds:.1f}s" if gpfq_seconds is not None else "off",
    )  # fmt: skip
    return metrics


def summarize_ptq(metric_files: list[str], out_file: str | Path) -> pd.DataFrame:
    """Long table of every PTQ cell of a dataset (one row per cell), plus a pivot in the log."""
    from .flags import joined

    keys = ["strategy", "method", "bits", "accuracy", "fp32_accuracy", "accuracy_drop", "macro_f1", "size_bits", "compression_ratio", "calibration_seconds", "gpfq_seconds", "flags"]
    columns = {"model": "config.kind", "seed": "config.seed", **{k: k for k in keys}, "float_reference_accuracy": "float_reference.accuracy"}
    table = table_from_metrics(metric_files, columns).assign(flags=lambda t: t["flags"].map(joined))
    table = table.sort_values(["model", "seed", "strategy", "method", "bits"], ascending=[True, True, True, True, False])
    write_frame(out_file, table)
    pivot = table.pivot_table(index="bits", columns=["model", "strategy", "method"], values="accuracy", aggfunc="mean").sort_index(ascending=False)
    log.info("test accuracy by bit width (mean over seeds):\n%s", (100 * pivot).round(2).to_string())
    return table


def ks_statistics(
    checkpoint: str | Path,
    tokens_dir: str | Path,
    quantized_files: dict[str, str],
    out_table: str | Path,
    out_signal: str | Path,
    bits: int,
    method: str,
    probe_size: int,
    batch_size: int,
    threads: int = 1,
) -> pd.DataFrame:
    """KS statistics of one (dataset, classifier, seed, method, bit width) across strategies."""
    import itertools

    import numpy as np

    from . import ks, quant
    from .models import load_checkpoint
    from .runtime import set_threads
    from .training import Encoded

    set_threads(threads)
    model, meta = load_checkpoint(checkpoint)
    model.eval()
    test = Encoded.from_frame(read_frame(Path(tokens_dir) / "test.parquet"))
    # a fixed, seeded probe set of test documents
    probe_index = np.sort(np.random.default_rng(meta["seed"]).choice(len(test), size=min(probe_size, len(test)), replace=False))
    probe = Encoded([test.ids[i] for i in probe_index], test.labels[probe_index])
    tensors = [*ks.PROBES.values(), "scores"]

    fp32_acts = ks.activations(model, probe, batch_size)
    fp32_weights = ks.weights_of(model)
    signal = {"fp32": ks.signal_health(fp32_acts["h_T_abs"])}
    rows: list[dict] = []
    quant_acts = {}
    for strategy, path in quantized_files.items():
        qmodel, payload = quant.load_quantized(model, path)
        quant_acts[strategy] = ks.activations(qmodel, probe, batch_size)
        signal[strategy] = ks.signal_health(quant_acts[strategy]["h_T_abs"])
        ks.compare(rows, "fp32_vs_quantized", strategy, fp32_acts, quant_acts[strategy], tensors)
        ks.compare(rows, "fp32_vs_quantized", strategy, fp32_weights, ks.weights_of(qmodel), fp32_weights)
    # the quantized graph before calibration (Brevitas' default activation scales)
    uncalibrated = quant.quantize_model(model, payload["stage_bits"], payload["percentile"])
    pre = ks.activations(uncalibrated, probe, batch_size)
    for strategy, acts in quant_acts.items():
        ks.compare(rows, "pre_vs_post_calibration", strategy, pre, acts, tensors)
    for first, second in itertools.combinations(quant_acts, 2):
        ks.compare(rows, f"{first}_vs_{second}", "", quant_acts[first], quant_acts[second], tensors)

    table = pd.DataFrame(rows).assign(model=meta["kind"], seed=meta["seed"], method=method, bits=bits, probe_documents=len(probe))
    write_frame(out_table, table)
    write_json(out_signal, {"model": meta["kind"], "seed": meta["seed"], "method": method, "bits": bits, "signal": signal})
    log.info("\n%s", table.pivot_table(index=["tensor"], columns=["comparison", "strategy"], values="ks").round(3).to_string())
    log.info("signal health |h_T|: %s", signal)
    return table


def between_strategies(ks_table: pd.DataFrame) -> pd.Series:
    """Rows of a KS table that compare two calibration strategies' models (e.g. balanced_vs_random):
    the only rows without a `strategy` of their own."""
    return ks_table["strategy"].eq("")


def summarize_ks(dataset: str, table_files: list[str], signal_files: list[str], out_ks: str | Path, out_signal: str | Path) -> None:
    """Dataset-level KS table (long: dataset, model, seed, strategy, bits, tensor, comparison, KS,
    p-value) and the |h_T| signal-health table."""
    table = pd.concat([read_frame(f, keep_default_na=False) for f in table_files], ignore_index=True)
    columns = ["dataset", "model", "seed", "method", "strategy", "bits", "tensor", "comparison", "ks", "p_value", "probe_documents"]
    table = table.assign(dataset=dataset)[columns]
    write_frame(out_ks, table)
    rows = []
    for path in signal_files:
        s = read_json(path)
        for variant, health in s["signal"].items():
            rows.append({"dataset": dataset, "model": s["model"], "seed": s["seed"], "method": s["method"], "bits": s["bits"], "variant": variant, **health})
    signal = pd.DataFrame(rows)
    write_frame(out_signal, signal)
    mismatch = table[between_strategies(table)]
    if not mismatch.empty:
        log.info(
            "calibration-mismatch KS (> 0.15 is the paper's signature):\n%s",
            mismatch.pivot_table(index=["model", "bits"], columns="tensor", values="ks").round(3).to_string(),
        )
