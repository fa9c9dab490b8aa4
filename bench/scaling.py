"""How does each stage's cost grow with the data, and what would the paper's grids cost?

Builds local-files datasets of several sizes from the embedded BBC corpus (each synthetic
document joins the first half of one article with the second half of another of the same class,
so texts are distinct, realistic and still labelled), runs the real workflow on each through the
`files` source as a user would (one seed, one strategy, one bit width, eps 0 and 0.1, a fixed
number of epochs), reads every job's wall seconds from its `benchmark:` file, fits cost = a + b x
documents per stage, and projects the paper's grids from the slopes. Prints `name: value` lines:

    python bench/scaling.py --sizes 1000 2000 4000 --workdir /tmp/scaling

On a GPU, where the workflow's Brevitas jobs cannot run, `--rates RESULTS --device cuda` measures
documents per second instead, on a built grid's seed-0 models: a training pass (forward, backward,
Adam step), FP32 scoring and the engine scoring the test set (4-bit cell), and projects the
paper grids on that device from them (`rate/...`, `projected_<device>/...`; Brevitas'
verification sample and process start-up are left out, so these are lower bounds).

- `size<N>/<stage>/<model>`: seconds (train: one epoch with validation; ptq: a cell's job; noise:
  a curve's job per eps; ks: a job);
- `slope/<stage>/<model>`: seconds per 1,000 documents: training documents for train, the
  calibration subset plus the test set for PTQ (both pass through it), test documents for noise
  and KS (whose probe set is fixed: slope near 0);
- `projected/<dataset>/<...>`: the paper grid per seed from those slopes, in CPU core-hours
  (one job per core, as the workflow runs them). The generative model's decoder cost also grows
  with the vocabulary, which these datasets keep at BBC's; the projection scales the generative
  slopes by vocabulary size (stated per line) and says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import lstmptq.quant.engine as engine

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 2
# The paper's grids (study.md; config/ag_news.yaml, config/dbpedia_14.yaml): documents, vocabulary,
# per seed 2 strategies x 6 bit widths x 51 eps.
PAPER = {
    "ag_news": {"train": 114_000, "test": 7_600, "vocab": 27_000, "epochs": 30},
    "dbpedia_14": {"train": 532_000, "test": 10_500, "vocab": 40_000, "epochs": 30},
}
CELLS, EPS = 2 * 6, 51


def synthetic(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """`size` documents: per document, the first half of one article and the second half of
    another of the same class (class shares as in `frame`)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(frame["label"].to_numpy(), size=size)
    by_class = {label: group["text"].str.split().tolist() for label, group in frame.groupby("label")}
    rows = []
    for label in labels:
        first, second = (by_class[label][i] for i in rng.integers(0, len(by_class[label]), size=2))
        rows.append({"text": " ".join(first[: len(first) // 2] + second[len(second) // 2 :]), "label": label})
    return pd.DataFrame(rows)


def write_dataset(workdir: Path, size: int) -> str:
    from lstmptq.data.sources import read_embedded_bbc

    name = f"scale{size}"
    corpus = read_embedded_bbc()
    for split, count, seed in (("train", size, 0), ("test", size // 4, 1)):
        synthetic(corpus, count, seed).to_csv(workdir / f"{name}_{split}.csv", index=False)
    return name


def overlay(workdir: Path, name: str) -> Path:
    config = {
        "datasets": [name],
        "seeds": [0],
        "sources": {name: {"kind": "files", "train": str(workdir / f"{name}_train.csv"),
                           "test": str(workdir / f"{name}_test.csv"), "valid": None,
                           "text_columns": ["text"], "label_column": "label",
                           "valid_fraction": 0.1, "max_duplicate_share": 0.05}},
        "training": {"max_epochs": EPOCHS, "patience": EPOCHS},
        "calibration": {"strategies": ["random"]},
        "ptq": {"bits": [4]},
        "noise": {"eps": [0, 0.1]},
    }  # fmt: skip
    path = workdir / f"{name}.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def run(workdir: Path, config: Path, cores: int) -> None:
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores),
           "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(REPO / "config.yaml"), str(config)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"snakemake failed for {config}:\n{done.stderr[-3000:]}")


def stage_costs(workdir: Path, name: str) -> dict[tuple[str, str], float]:
    """(stage, model) -> seconds: train per epoch, ptq per cell, noise per eps (from benchmark files)."""

    def seconds(pattern: str) -> float:
        files = sorted((workdir / "benchmarks").glob(pattern))
        if not files:
            raise SystemExit(f"no benchmark files {pattern} under {workdir}")
        return float(np.median([pd.read_csv(f, sep="\t")["s"].sum() for f in files]))

    costs = {}
    for model in ("discriminative", "generative"):
        log = pd.read_csv(workdir / "results" / name / model / "seed0" / "fp32" / "train_log.csv")
        costs["train", model] = float(log["epoch_seconds"].median())  # an epoch: training plus validation
        costs["ptq", model] = seconds(f"ptq/{name}/{model}/**/*.tsv")
        costs["noise_fp32", model] = seconds(f"evaluate_fp32/{name}/{model}/**/*.tsv") / 2
        costs["noise_ptq", model] = seconds(f"evaluate_ptq/{name}/{model}/**/*.tsv") / 2
        costs["ks", model] = seconds(f"ks_statistics/{name}/{model}/**/*.tsv")
    return costs


def documents(stage: str, train, test):
    """What a stage's cost grows with: training documents (train), calibration subset (a quarter
    of the training split) plus test set (PTQ), test documents (the rest)."""
    if stage == "train":
        return train
    return 0.25 * train + test if stage == "ptq" else test


def device_rates(results: Path, device: str, batch_size: int = 32) -> dict[tuple[str, str], float]:
    """(what, model) -> documents per second on `device`: `train` (one pass over the training set),
    `fp32` and `engine` (scoring the test set, batch 64)."""
    import time

    import torch

    from lstmptq.models.checkpoint import load_checkpoint
    from lstmptq.models.training import Encoded, collate, predict, sorted_batches

    def seconds(work) -> float:
        work()  # warm-up (kernels, allocator)
        start = time.perf_counter()
        work()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    train, test = (
        Encoded.from_frame(pd.read_parquet(results / "tokens" / f"{split}.parquet")) for split in ("train", "test")
    )
    rates = {}
    for model_name in ("discriminative", "generative"):
        model, _ = load_checkpoint(results / model_name / "seed0" / "fp32" / "model.pt")
        model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

        def train_pass():
            model.train()
            for index in sorted_batches(train.lengths, batch_size):
                ids, lengths, labels = collate(train, index, device)
                optimizer.zero_grad()
                model.loss(ids, lengths, labels).backward()
                optimizer.step()

        rates["train", model_name] = len(train) / seconds(train_pass)
        rates["fp32", model_name] = len(test) / seconds(lambda: predict(model.eval(), test, 64, device))
        quantized = engine.load(
            results / model_name / "seed0" / "balanced" / "gpfq" / "w4" / "quantized.safetensors"
        ).to(device)
        rates["engine", model_name] = len(test) / seconds(lambda: predict(quantized, test, 64, device))
    return rates


def project_from_rates(rates: dict[tuple[str, str], float], device: str, vocab: int) -> None:
    for dataset, spec in PAPER.items():
        total = 0.0
        for model in ("discriminative", "generative"):
            factor = spec["vocab"] / vocab if model == "generative" else 1.0
            parts = {
                "train": factor * spec["epochs"] * spec["train"] / rates["train", model],
                "ptq": factor * CELLS * (0.25 * spec["train"] + spec["test"]) / rates["engine", model],
                "noise": factor * EPS * spec["test"] * (1 / rates["fp32", model] + CELLS / rates["engine", model]),
            }
            for part, seconds in parts.items():
                print(f"projected_{device}/{dataset}/{model}/{part}_hours: {seconds / 3600:.2f}")
            total += sum(parts.values())
        print(f"projected_{device}/{dataset}/per_seed_hours: {total / 3600:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 2000, 4000], help="training documents (test: a quarter)"
    )
    parser.add_argument("--workdir", type=Path, default=Path("scaling"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--rates", type=Path, help="a built dataset's results folder: measure documents per second on --device instead"
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.rates:
        rates = device_rates(args.rates, args.device)
        for (what, model), value in rates.items():
            print(f"rate/{args.device}/{what}/{model}_docs_per_second: {value:.1f}")
        project_from_rates(
            rates, args.device, len(json.loads((args.rates / "tokens" / "vocab.json").read_text())["itos"])
        )
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    measured = {}
    for size in args.sizes:
        name = write_dataset(args.workdir, size)
        run(args.workdir, overlay(args.workdir, name), args.cores)
        measured[size] = stage_costs(args.workdir, name)
        for (stage, model), value in measured[size].items():
            print(f"size{size}/{stage}/{model}: {value:.2f}")

    sizes = np.array(args.sizes, dtype=float)
    slopes = {}
    for key in measured[args.sizes[0]]:
        stage, model = key
        x = documents(stage, train=sizes, test=sizes / 4)
        y = np.array([measured[s][key] for s in args.sizes])
        slope, intercept = np.polyfit(x, y, 1)
        slopes[key] = (slope, intercept)
        print(f"slope/{stage}/{model}: {1000 * slope:.3f}")
        print(f"intercept/{stage}/{model}: {intercept:.2f}")

    vocab = len(
        json.loads((args.workdir / "results" / f"scale{args.sizes[-1]}" / "tokens" / "vocab.json").read_text())["itos"]
    )
    print(f"measured_vocab: {vocab}")
    for dataset, spec in PAPER.items():
        total = 0.0
        for model in ("discriminative", "generative"):
            factor = spec["vocab"] / vocab if model == "generative" else 1.0  # decoder softmax over the vocabulary

            def cost(stage):
                slope, intercept = slopes[stage, model]
                return max(slope * documents(stage, spec["train"], spec["test"]) + intercept, 0.0) * (
                    factor if stage != "ks" else 1.0
                )

            parts = {
                "train": spec["epochs"] * cost("train"),
                "ptq": CELLS * cost("ptq"),
                "noise": EPS * (cost("noise_fp32") + CELLS * cost("noise_ptq")),
                "ks": 6 * cost("ks"),
            }
            for part, seconds in parts.items():
                print(f"projected/{dataset}/{model}/{part}_core_hours: {seconds / 3600:.2f}")
            total += sum(parts.values())
            print(f"projected/{dataset}/{model}/vocab_factor: {factor:.2f}")
        print(f"projected/{dataset}/per_seed_core_hours: {total / 3600:.1f}")


if __name__ == "__main__":
    main()
