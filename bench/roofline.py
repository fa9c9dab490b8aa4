"""How close does each stage of a finished run come to what this machine can compute?

Measures this machine's peak fp32 matrix-product rate (a large square matmul) and `exp` rate with
torch at the jobs' thread count, then reads a finished run's `benchmark:` files and job logs and
prints, per rule and classifier, one `name: value` line per figure:

- `peak/gemm_gflop_per_s`, `peak/exp_gelement_per_s`, `import_torch_s` (a fresh interpreter);
- `<rule>/<model>/jobs`, `job_seconds` (sum), `wall_median_s`, `startup_median_s` (process start
  to the step, from the line runtime.run_step logs), `startup_over_import_torch`;
- the split of the median job's wall time into start-up, the phases the stage times itself
  (PTQ: calibration, method, test, verify, diagnose; noise curves: load, scoring; training: train,
  test) and `other` (reading inputs, writing results, anything untimed): `<rule>/<model>/split/<part>_s`;
- with `--count`: the median job of each rule and classifier is rerun in a scratch copy of the
  run with its work counted (lstmptq.profiling: matrix-product FLOPs and transcendentals as
  dispatched), and `compute_fraction` = (FLOPs / peak GEMM rate + transcendentals / peak exp
  rate) / (its wall time in the run - its start-up). 1.0 would mean the job did nothing but
  those operations at peak speed; the rest is elementwise work, Python and I/O.

    python bench/roofline.py --run /path/to/run [--count [--only ptq/generative ...]] [--configfile tiny.yaml ...]

`--run` is a folder the workflow ran in (with results/, logs/, benchmarks/); `--configfile`: the
config files of that run after config.yaml, needed with --count to find each job's output.
The run is never written to: --count works in a copy whose results/ are hard links (jobs write
new files and rename them into place, so the originals stay as they are).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from lstmptq.report.cost import WORK, compute_fraction, jobs, median_job, peaks

REPO = Path(__file__).resolve().parents[1]


def import_torch_seconds(repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def phases(run: Path, job: dict) -> dict[str, float]:
    """The phase seconds a job's own results record (empty for stages that time none)."""
    parts, results = job["parts"], run / "results"
    if job["rule"] == "ptq":
        metrics = json.loads((results.joinpath(*parts) / "metrics.json").read_text())
        return {k: metrics[f"{k}_seconds"] for k in ("calibration", "method", "test", "verify", "diagnose")}
    if job["rule"] == "train":
        metrics = json.loads((results.joinpath(*parts) / "fp32" / "metrics.json").read_text())
        return {"train": metrics["train_seconds"], "test": metrics["test_seconds"]}
    if job["rule"] in ("evaluate_ptq", "evaluate_fp32"):
        *cell, noise = parts
        folder = results.joinpath(*cell, *(["fp32"] if job["rule"] == "evaluate_fp32" else []), "noise", noise)
        cells = [json.loads(f.read_text()) for f in sorted(folder.glob("eps*.json"))]
        return {"load": cells[0]["load_seconds"], "scoring": sum(c["score_seconds"] for c in cells)} if cells else {}
    return {}


def count_work(run: Path, chosen: list[dict], configfiles: list[str]) -> dict[Path, dict]:
    """Rerun `chosen` jobs with LSTMPTQ_COUNT_WORK=1 in a scratch copy of `run`; their `work` lines by log."""
    scratch = Path(tempfile.mkdtemp(prefix="roofline-"))
    try:
        subprocess.run(["cp", "-al", str(run / "results"), str(scratch / "results")], check=True)
        for folder in ("logs", "benchmarks", ".snakemake"):  # written in place by jobs or Snakemake: copies
            if (run / folder).is_dir():
                shutil.copytree(run / folder, scratch / folder, symlinks=True)
        shutil.rmtree(scratch / ".snakemake" / "locks", ignore_errors=True)
        base = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(scratch),
                "--configfile", str(REPO / "config.yaml"), *configfiles]  # fmt: skip
        summary = subprocess.run([*base, "--detailed-summary"], capture_output=True, text=True, check=True).stdout
        output_of = {}
        csv.field_size_limit(sys.maxsize)  # a table's row lists all its inputs: megabytes on a full grid
        for row in csv.DictReader(summary.splitlines(), delimiter="\t"):
            for log in row.get("log-file(s)", "").split(","):
                if log.strip():
                    output_of.setdefault((scratch / log.strip()).resolve(), row["output_file"])
        targets = [output_of[(scratch / j["log"].relative_to(run)).resolve()] for j in chosen]
        env = {**os.environ, "LSTMPTQ_COUNT_WORK": "1"}
        subprocess.run([*base, "--cores", "1", "--force", *targets], env=env, check=True, capture_output=True)
        counted = {}
        for job in chosen:
            match = WORK.search((scratch / job["log"].relative_to(run)).read_text())
            counted[job["log"]] = json.loads(match[1]) if match else None
        return counted
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a folder the workflow ran in")
    parser.add_argument("--threads", type=int, default=1, help="the jobs' thread count (the PTQ and noise rules: 1)")
    parser.add_argument("--count", action="store_true", help="rerun each stage's median job with its work counted")
    parser.add_argument(
        "--only", nargs="*", default=[], metavar="RULE/MODEL", help="count only these (ptq/generative ...)"
    )
    parser.add_argument("--configfile", nargs="*", default=[], help="the run's config files after config.yaml")
    args = parser.parse_args(argv)
    run = args.run.resolve()

    peak = peaks(args.threads)
    for name, value in peak.items():
        print(f"peak/{name}: {value:.2f}")
    torch_seconds = import_torch_seconds()
    print(f"import_torch_s: {torch_seconds:.2f}")

    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for job in jobs(run):
        groups[job["rule"], job["model"]].append(job)
    print(f"total/jobs: {sum(len(g) for g in groups.values())}")
    print(f"total/job_seconds: {sum(j['wall'] for g in groups.values() for j in g):.0f}")
    chosen = {key: median_job(group) for key, group in groups.items()}
    to_count = [job for (rule, model), job in chosen.items() if not args.only or f"{rule}/{model}" in args.only]
    counted = count_work(run, to_count, args.configfile) if args.count else {}
    for (rule, model), group in sorted(groups.items()):
        name = f"{rule}/{model}"
        startups = [j["startup"] for j in group if j["startup"] is not None]
        print(f"{name}/jobs: {len(group)}")
        print(f"{name}/job_seconds: {sum(j['wall'] for j in group):.1f}")
        print(f"{name}/wall_median_s: {statistics.median(j['wall'] for j in group):.2f}")
        if startups:
            print(f"{name}/startup_median_s: {statistics.median(startups):.2f}")
            print(f"{name}/startup_over_import_torch: {statistics.median(startups) / torch_seconds:.2f}")
        job = chosen[rule, model]
        split = {"startup": job["startup"] or 0.0, **phases(run, job)}
        split["other"] = job["wall"] - sum(split.values())
        for part, seconds in split.items():
            print(f"{name}/split/{part}_s: {seconds:.2f}")
        work = counted.get(job["log"])
        if work:
            print(f"{name}/gemm_gflop: {work['gemm_flops'] / 1e9:.3f}")
            print(f"{name}/transcendentals_g: {work['transcendentals'] / 1e9:.4f}")
            print(f"{name}/compute_fraction: {compute_fraction(job, work, peak):.3f}")
            for op, calls in work["uncounted"].items():
                print(f"{name}/uncounted/{op}: {calls}")


if __name__ == "__main__":
    main()
