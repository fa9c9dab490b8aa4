"""How fast is the plain-PyTorch engine against the FP32 model and Brevitas, how big are the
artifacts, and what does a noise cell cost before it scores its first document?

Prints one `name: value` line per figure. Needs the default grid's PTQ cells (8 and 4 bits):
    snakemake --cores 8 && python bench/engine.py
On a GPU (no Brevitas needed; its model runs on the CPU only; the engine replays its recurrent
step from a CUDA graph there):
    python bench/engine.py --device cuda --no-brevitas --skip-startup [--compile]

- `<kind>/...`: the embedded test set scored side by side in this process (batch 64, 1 thread,
  interleaved, median of --repeats) by the FP32 model, the engine (4-bit artifact) and Brevitas
  (the same cell's quantized.pt); `lstm_...` times the embedding + LSTM part alone.
- `<kind>/w<b>/...`: artifact size on disk vs the counted bits (metrics.json `size_bits`).
- `<kind>/latency_ms/...`: median per-document latency at batch 1.
- `<kind>/docs_per_second/...`: test documents scored per second at batch 64.
- `--compile`: the engine's recurrent step through torch.compile (not the default engine: its
  fused sigmoid/tanh need not be bit-identical to ATen's, so agreement is printed too).
- `noise_cell/...`: a real noise-curve job (snakemake, forced by naming the generative 4-bit
  cell's file for noise model --noise at eps 0.05; the job scores every eps of that curve) from
  process start to the first document scored, against `python -c "import torch"`; medians over
  --repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import lstmptq.quant.checkpoint as quant_checkpoint
import lstmptq.quant.engine as engine
from lstmptq.models.checkpoint import load_checkpoint
from lstmptq.models.training import Encoded, collate, predict, sorted_batches

KINDS = ("generative", "discriminative")


DEVICE = torch.device("cpu")


def timed(function) -> float:
    start = time.perf_counter()
    function()
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def encoder_time(model, batches, lstm) -> float:
    """Embedding + LSTM over every batch (no head): where Brevitas' time goes."""
    with torch.no_grad():
        return timed(lambda: [lstm(model, ids) for ids, _ in batches])


def fp32_lstm(model, ids):
    return model.lstm(model.lstm_input(model.embedding(ids)))


def engine_lstm(model, ids):
    return model.encode(ids)


def side_by_side(
    cell: Path, test: Encoded, repeats: int, batch_size: int, brevitas: bool, compiled: bool
) -> dict[str, float]:
    fp32, _ = load_checkpoint(cell.parents[2] / "fp32" / "model.pt")
    fp32.eval().to(DEVICE)
    ours = load_engine(cell / "quantized.safetensors", compiled)
    batches = [collate(test, b, DEVICE)[:2] for b in sorted_batches(test.lengths, batch_size)]
    models = {"fp32": (fp32, fp32_lstm), "engine": (ours, engine_lstm)}
    if brevitas:
        models["brevitas"] = (
            quant_checkpoint.load_quantized(fp32.cpu(), cell / "quantized.pt")[0].to(DEVICE),
            fp32_lstm,
        )
    times = {f"{part}{name}": [] for name in models for part in ("", "lstm_")}
    scores = {}
    for _ in range(repeats):
        for name, (model, lstm) in models.items():
            scores[name], seconds = timed_predict(model, test, batch_size)
            times[name].append(seconds)
            times[f"lstm_{name}"].append(encoder_time(model, batches, lstm))
    median = {name: statistics.median(values) for name, values in times.items()}
    figures = {
        **{f"{name}_seconds": value for name, value in median.items()},
        **{f"docs_per_second/{name}": len(test) / median[name] for name in models},
        "engine_over_fp32": median["engine"] / median["fp32"],
        "lstm_engine_over_fp32": median["lstm_engine"] / median["lstm_fp32"],
    }
    if brevitas:
        check = engine.agreement(scores["brevitas"], scores["engine"])
        figures.update({
            "brevitas_over_engine": median["brevitas"] / median["engine"],
            "lstm_brevitas_over_engine": median["lstm_brevitas"] / median["lstm_engine"],
            "engine_vs_brevitas_max_abs_score_difference": check["max_abs_score_difference"],
            "engine_vs_brevitas_prediction_agreement": check["prediction_agreement"],
        })  # fmt: skip
    if compiled:  # the compiled engine against the plain one, on this device
        check = engine.agreement(
            timed_predict(engine.load(cell / "quantized.safetensors").to(DEVICE), test, batch_size)[0], scores["engine"]
        )
        figures.update(
            {
                "variant_vs_plain_max_abs_score_difference": check["max_abs_score_difference"],
                "variant_vs_plain_prediction_agreement": check["prediction_agreement"],
            }
        )
    return figures


def timed_predict(model, test: Encoded, batch_size: int) -> tuple[np.ndarray, float]:
    """(class scores, seconds); the scores come back as numpy, so the device is synchronized."""
    start = time.perf_counter()
    _, scores = predict(model, test, batch_size, DEVICE)
    return scores, time.perf_counter() - start


def load_engine(path: Path, compiled: bool):
    model = engine.load(path).to(DEVICE)
    if compiled:
        model.lstm.step = torch.compile(model.lstm.step, dynamic=True)
    return model


def latency_ms(model, test: Encoded, documents: int) -> float:
    per_document = []
    for i in range(min(documents, len(test))):
        ids, lengths, _ = collate(test, [i], DEVICE)
        with torch.no_grad():
            per_document.append(timed(lambda: model.class_scores(ids, lengths)))
    return 1000 * statistics.median(per_document)


def noise_cell_startup(cell_json: Path, repeats: int) -> dict[str, float]:
    """Force one real noise cell `repeats` times, interleaved with `python -c "import torch"`."""
    startup, import_torch = [], []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--force",
                               "--allowed-rules", "evaluate_ptq", str(cell_json)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            raise SystemExit(f"snakemake failed on {cell_json}:\n{done.stderr[-3000:]}")
        startup.append(json.loads(cell_json.read_text())["startup_seconds"])
        import_torch.append(timed(lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True)))
    return {
        "startup_seconds": statistics.median(startup),
        "import_torch_seconds": statistics.median(import_torch),
        "startup_over_import_torch": statistics.median(startup) / statistics.median(import_torch),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/bbc_news", help="a dataset's results folder")
    parser.add_argument("--cell", default="seed0/balanced/gpfq", help="seed/strategy/method of the PTQ cells")
    parser.add_argument(
        "--noise", default="char_substitution", help="noise model of the noise cell whose startup is timed"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-docs", type=int, default=100)
    parser.add_argument("--skip-startup", action="store_true", help="do not run snakemake for the noise-cell figure")
    parser.add_argument(
        "--device", default="cpu", help="cpu or cuda (the models and the engine; Brevitas stays on the CPU)"
    )
    parser.add_argument("--no-brevitas", action="store_true", help="leave out Brevitas (not installed, or a GPU run)")
    parser.add_argument("--compile", action="store_true", help="the engine's recurrent step through torch.compile")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(1)  # as the noise cells
    root = Path(args.results)
    cells = {(kind, bits): root / kind / args.cell / f"w{bits}" for kind in KINDS for bits in (8, 4)}
    missing = [str(c / "quantized.safetensors") for c in cells.values() if not (c / "quantized.safetensors").exists()]
    if missing:
        raise SystemExit(f"missing PTQ cells; build them first: snakemake --cores 8 {' '.join(missing)}")
    test = Encoded.from_frame(pd.read_parquet(root / "tokens" / "test.parquet"))
    figures: dict[str, float] = {}
    for kind in KINDS:
        for name, value in side_by_side(
            cells[kind, 4], test, args.repeats, 64, not args.no_brevitas and args.device == "cpu", args.compile
        ).items():
            figures[f"{kind}/{name}"] = value
        fp32, _ = load_checkpoint(root / kind / "seed0" / "fp32" / "model.pt")
        figures[f"{kind}/fp32_model_pt_bytes"] = (root / kind / "seed0" / "fp32" / "model.pt").stat().st_size
        figures[f"{kind}/latency_ms/fp32"] = latency_ms(fp32.eval().to(DEVICE), test, args.latency_docs)
        for bits in (8, 4):
            cell = cells[kind, bits]
            counted = json.loads((cell / "metrics.json").read_text())["size_bits"] / 8
            size = (cell / "quantized.safetensors").stat().st_size
            figures[f"{kind}/w{bits}/artifact_bytes"] = size
            figures[f"{kind}/w{bits}/counted_bytes"] = counted
            figures[f"{kind}/w{bits}/artifact_over_counted"] = size / counted
            figures[f"{kind}/latency_ms/engine_w{bits}"] = latency_ms(
                load_engine(cell / "quantized.safetensors", args.compile), test, args.latency_docs
            )
    if not args.skip_startup:
        for name, value in noise_cell_startup(
            cells["generative", 4] / "noise" / args.noise / "eps0.05.json", args.repeats
        ).items():
            figures[f"noise_cell/{name}"] = value
    for name, value in figures.items():
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
