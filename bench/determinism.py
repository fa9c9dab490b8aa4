"""Does a "deterministic mode" make FP32 training bit-identical across CPUs, and what must it pin?

Trains the discriminative classifier on the embedded default data with the package's own step
(`lstmptq.stages.train.train_classifier`, default config.yaml settings except --max-epochs, default 15
instead of 60: a shortened run, so its accuracies are not the README's) in a fresh process per
run. Each run emulates "another CPU" on this machine through the knobs that decide which kernels
run: torch's thread count, ATen's kernel dispatch level (ATEN_CPU_CAPABILITY), oneDNN's ISA
(ONEDNN_MAX_CPU_ISA; nn.LSTM on CPU runs oneDNN's RNN) and MKL's code path (MKL_CBWR), set in
the child's environment as the machine would have them. Modes:

- `off`: the pipeline as it is.
- `flag`: torch.use_deterministic_algorithms(True) + a fixed thread count (1), nothing else.
- `det`: the pipeline's `deterministic: true`: `flag` + the pins that the `off` runs show to
  matter (lstmptq.runtime.DETERMINISTIC_ENV, set before torch is imported, and set_threads):
  ATEN_CPU_CAPABILITY=avx2, MKL_CBWR=COMPATIBLE and oneDNN off (torch.backends.mkldnn.enabled =
  False, so nn.LSTM runs ATen's own cell on MKL gemms), OMP/MKL thread counts 1.
- `det_2threads` (only with --pairs): `det` with 2 threads, to see whether the count must be 1.

The `det` pins override the same knobs the machines are emulated with, so one hash under `det`
shows that the pins take effect from inside the process and that nothing else on this machine
leaks through; it cannot show that two physically different CPUs agree. For that, run
`--pairs det/native` on both and compare the sha256 line.

Measured on 2-core AMD EPYC (AVX2), torch 2.13.0+cpu, 15 epochs: `off` gives 5 hashes over 6
machines (each of threads, ATen capability, oneDNN ISA and MKL branch changes the bits; with
oneDNN on, threads only through MKL's default non-CNR mode, but under `det` 2 threads differ
from 1 too), accuracy range 7.9 points; `flag` 4 hashes over 4; `det` 1 hash over 6, runs
repeatable. Full 60-epoch runs at 1 thread: 85.39..87.87 % without the mode, 82.25 % with it;
`det` is ~2.5x slower per epoch than 1 thread with oneDNN.

Prints one `name: value` line per figure: per run `<mode>/<machine>/<figure>` (test accuracy,
best epoch, the first epoch's training loss, seconds per epoch, the capability torch reports,
the SHA-256 of the final state dict), then per mode the number of distinct state-dict hashes
and the accuracy range over the emulated machines, whether repeated runs are bit-identical,
and `hash/<first 12 hex>: <runs>` for the runs that share each state dict, across modes.

    python bench/determinism.py [--tokens-dir results/bbc_news/tokens] [--max-epochs 15]

Runs one training at a time with at most 2 threads. Tokens: `snakemake
results/bbc_news/tokens/vocab.json --cores 2` (target before any --configfile).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# Emulated machines: environment of the fresh process (as that machine would set it) and the
# thread count its Snakemake job gets (the train rule asks for 2; `--cores 1` gives 1).
MACHINES: dict[str, tuple[dict[str, str], int]] = {
    "native": ({}, 2),
    "threads=1": ({}, 1),
    "capability=default": ({"ATEN_CPU_CAPABILITY": "default"}, 2),
    "onednn=sse41": ({"ONEDNN_MAX_CPU_ISA": "SSE41"}, 2),
    "mkl=compatible": ({"MKL_CBWR": "COMPATIBLE"}, 2),
    "mkl=avx2": ({"MKL_CBWR": "AVX2"}, 2),
    "all_other": ({"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"}, 1),
}

# What each mode does inside the process before torch is imported.
MODES: dict[str, dict] = {
    "off": {},
    "flag": {"deterministic_algorithms": True, "threads": 1},
    # the pipeline's own `deterministic: true`: lstmptq.runtime.DETERMINISTIC_ENV, set before torch
    # is imported; the package's set_threads (inside train_classifier) then turns oneDNN off, torch's
    # deterministic algorithms on and the thread count to 1
    "det": {"pipeline": True},
}
# Not in the default plan (--pairs): the same pins by hand with 2 threads: must the count be 1?
MODES["det_2threads"] = {
    "deterministic_algorithms": True,
    "threads": 2,
    "env": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
    "mkldnn": False,
}

# (mode, machine) pairs to run; a pair listed twice is a repeatability check.
PLAN: list[tuple[str, str]] = [
    ("off", "native"), ("off", "native"), ("off", "threads=1"), ("off", "capability=default"),
    ("off", "onednn=sse41"), ("off", "mkl=compatible"), ("off", "mkl=avx2"),
    ("flag", "native"), ("flag", "capability=default"), ("flag", "onednn=sse41"), ("flag", "mkl=compatible"),
    ("det", "native"), ("det", "native"), ("det", "threads=1"), ("det", "capability=default"),
    ("det", "onednn=sse41"), ("det", "mkl=compatible"), ("det", "all_other"),
]  # fmt: skip

# The knobs a child inherits from this process are cleared so that only the variant sets them.
KNOBS = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "MKL_CBWR",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "MKL_ENABLE_INSTRUCTIONS",
)


def state_sha256(state_dict) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def child(spec: dict) -> None:
    """One training in this fresh process; the result as one JSON line on stdout."""
    mode = MODES[spec["mode"]]
    assert "torch" not in sys.modules, "the mode's environment must be set before torch is imported"
    os.environ.update(mode.get("env", {}))
    if mode.get("pipeline"):
        from lstmptq.runtime import DETERMINISTIC_ENV  # stdlib only: torch is not imported yet

        os.environ.update(DETERMINISTIC_ENV)
    import torch

    if mode.get("deterministic_algorithms"):
        torch.use_deterministic_algorithms(True)
    if "mkldnn" in mode:
        torch.backends.mkldnn.enabled = mode["mkldnn"]
    threads = mode.get("threads", spec["threads"])

    from lstmptq.models.checkpoint import load_checkpoint
    from lstmptq.runtime import setup_logging

    setup_logging(None)
    config = yaml.safe_load((Path(spec["root"]) / "config.yaml").read_text())
    model = {
        "embedding_dim": config["model"]["embedding_dim"],
        "hidden_dim": config["model"]["hidden_dim"],
        "dropout": config["model"]["dropout"]["discriminative"],
    }
    training = {**config["training"], "max_epochs": spec["max_epochs"]}
    tokens = Path(spec["tokens_dir"])
    with tempfile.TemporaryDirectory(prefix="determinism.") as out:
        out = Path(out)
        try:  # this package: the step takes the files its rule names
            from lstmptq.stages.train import train_classifier

            files = {
                "token_files": {split: tokens / f"{split}.parquet" for split in ("train", "valid", "test")},
                "vocab_file": tokens / "vocab.json",
                "labels_file": spec["labels_file"],
                "model_file": out / "model.pt",
                "train_log_file": out / "train_log.csv",
                "metrics_file": out / "metrics.json",
            }
        except ImportError:  # a --root checkout from before lstmptq.stages: folders in, a folder out
            from lstmptq.steps import train_classifier

            files = {"tokens_dir": tokens, "labels_file": spec["labels_file"], "out_dir": out}
        extra = (
            {"checks": config.get("checks", {})} if "checks" in inspect.signature(train_classifier).parameters else {}
        )
        metrics = train_classifier(
            **files,
            kind="discriminative",
            model_settings=model,
            training_settings=training,
            seed=0,
            device="cpu",
            threads=threads,
            **extra,
        )
        state_dict = load_checkpoint(out / "model.pt")[0].state_dict()
        log = (out / "train_log.csv").read_text().splitlines()
    first_loss = log[1].split(",")[1]  # epoch,train_loss,...: the loss as pandas wrote it (full repr)
    print(json.dumps({
        "accuracy": metrics["accuracy"],
        "best_epoch": metrics["best_epoch"],
        "epochs_run": metrics["epochs_run"],
        "epoch1_loss": first_loss,
        "seconds_per_epoch": metrics["seconds_per_epoch"],
        "capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "sha256": state_sha256(state_dict),
        "package": str(Path(sys.modules["lstmptq"].__file__).parent),
    }))  # fmt: skip


def run(mode: str, machine: str, args) -> dict:
    env_vars, threads = MACHINES[machine]
    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    env.update(env_vars)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.root / "src"), env.get("PYTHONPATH")]))
    spec = {
        "root": str(args.root),
        "mode": mode,
        "threads": threads,
        "max_epochs": args.max_epochs,
        "tokens_dir": str(args.tokens_dir),
        "labels_file": str(args.labels_file),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{mode}/{machine} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens-dir", type=Path, default=REPO / "results" / "bbc_news" / "tokens")
    parser.add_argument("--labels-file", type=Path, help="default: <tokens-dir>/../data/labels.json")
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument(
        "--root", type=Path, default=REPO, help="checkout whose src/ and config.yaml to use (default: this one)"
    )
    parser.add_argument("--only", help="comma-separated modes to run (default: all)")
    parser.add_argument(
        "--pairs",
        help="comma-separated mode/machine pairs to run instead of the default plan, e.g. off/native,det/native",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    args.labels_file = args.labels_file or args.tokens_dir.parent / "data" / "labels.json"
    if not (args.tokens_dir / "vocab.json").exists():
        sys.exit(f"{args.tokens_dir}/vocab.json missing: snakemake results/bbc_news/tokens/vocab.json --cores 2")
    plan = [tuple(pair.split("/", 1)) for pair in args.pairs.split(",")] if args.pairs else PLAN
    unknown = [f"{m}/{n}" for m, n in plan if m not in MODES or n not in MACHINES]
    if unknown:
        sys.exit(f"unknown mode/machine: {unknown}; modes {list(MODES)}, machines {list(MACHINES)}")
    modes = args.only.split(",") if args.only else list(dict.fromkeys(m for m, _ in plan))
    print(
        f"settings: discriminative, seed 0, config.yaml training with max_epochs={args.max_epochs} "
        "(default 60), one run at a time",
        flush=True,
    )
    results: dict[str, list[tuple[str, dict]]] = {m: [] for m in modes}
    for mode, machine in plan:
        if mode not in modes:
            continue
        r = run(mode, machine, args)
        nth = sum(name == machine for name, _ in results[mode])
        tag = f"{mode}/{machine}" + (f"#{nth + 1}" if nth else "")
        results[mode].append((machine, r))
        for key in (
            "accuracy",
            "best_epoch",
            "epochs_run",
            "epoch1_loss",
            "seconds_per_epoch",
            "capability",
            "torch_threads",
            "mkldnn_enabled",
            "deterministic",
            "sha256",
            "wall_seconds",
        ):
            value = r[key]
            print(f"{tag}/{key}: {value:.4f}" if isinstance(value, float) else f"{tag}/{key}: {value}", flush=True)
    for mode, rows in results.items():
        if not rows:
            continue
        first = {}
        for machine, r in rows:
            first.setdefault(machine, r)
        hashes = {r["sha256"] for r in first.values()}
        accuracies = [r["accuracy"] for r in first.values()]
        print(f"{mode}/machines: {len(first)}")
        print(f"{mode}/distinct_hashes: {len(hashes)}")
        print(f"{mode}/accuracy_range: {max(accuracies) - min(accuracies):.4f}")
        print(
            f"{mode}/best_epoch_range: "
            f"{max(r['best_epoch'] for r in first.values()) - min(r['best_epoch'] for r in first.values())}"
        )
        baseline = first[rows[0][0]]["sha256"]
        print(f"{mode}/same_as_{rows[0][0]}: {','.join(m for m, r in first.items() if r['sha256'] == baseline)}")
        for machine, r in rows:
            if r is not first[machine]:
                print(f"{mode}/{machine}/repeat_identical: {r['sha256'] == first[machine]['sha256']}")
    groups: dict[str, list[str]] = {}
    for mode, rows in results.items():
        for machine, r in rows:
            groups.setdefault(r["sha256"], []).append(f"{mode}/{machine}")
    for digest, tags in groups.items():
        print(f"hash/{digest[:12]}: {','.join(dict.fromkeys(tags))}")


if __name__ == "__main__":
    main()
