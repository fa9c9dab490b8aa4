"""What a run cost: every job's benchmark file (written by the job itself, lstmptq.runtime) and
log, summed per rule and classifier, with the compute fraction where the jobs counted their work.

The compute fraction of a job is the time its counted matrix-product FLOPs and transcendentals
would take at this machine's peak rates (`peaks`), over its wall time minus start-up: 1.0 would
mean it did nothing else, at peak speed. Jobs count their work only when run with
LSTMPTQ_COUNT_WORK=1 (lstmptq.profiling; `bench/roofline.py --count` reruns a run's median jobs
so), otherwise the column is empty.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import statistics
import time
from pathlib import Path

import pandas as pd

from lstmptq.io import write_frame
from lstmptq.registry import CLASSIFIERS  # every family by name, extensions included once registered

log = logging.getLogger(__name__)

STARTUP = re.compile(r"start-up ([0-9.]+) s")
WORK = re.compile(r"work: (\{.*\})")


def jobs(run: str | Path) -> list[dict]:
    """Every job of the run with a benchmark file: rule, model, wall and CPU seconds, start-up,
    counted work (or None), the path parts of its wildcards and its log."""
    run = Path(run)
    found = []
    for bench in sorted((run / "benchmarks").rglob("*.tsv")):
        relative = bench.relative_to(run / "benchmarks").with_suffix("")
        rule, parts = relative.parts[0], relative.parts[1:]
        with bench.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"), None)
        if row is None:
            continue
        job_log = run / "logs" / relative.with_suffix(".log")
        text = job_log.read_text(errors="replace") if job_log.is_file() else ""
        startup, work = STARTUP.search(text), WORK.findall(text)
        found.append(
            {
                "rule": rule,
                "model": next((p for p in parts if p in CLASSIFIERS), "-"),
                "wall": float(row["s"]),
                "cpu": float(row["cpu_time"]) if row.get("cpu_time") not in (None, "", "NA") else None,
                "startup": float(startup[1]) if startup else None,
                "work": json.loads(work[-1]) if work else None,
                "parts": parts,
                "log": job_log,
            }
        )
    return found


def median_job(group: list[dict]) -> dict:
    return sorted(group, key=lambda j: j["wall"])[len(group) // 2]


def peaks(threads: int = 1, repeats: int = 5) -> dict[str, float]:
    """This machine's best fp32 GEMM rate (GFLOP/s, square products of 512..2048) and exp rate
    (G elements/s, vectors in L2, L3 and memory) at `threads` threads."""
    import torch

    torch.set_num_threads(threads)

    def best_seconds(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    gemm = 0.0
    for n in (512, 1024, 2048):
        a, b, c = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
        gemm = max(gemm, 2 * n**3 / best_seconds(lambda: torch.mm(a, b, out=c)) / 1e9)
    exp = 0.0
    for n in (2**16, 2**20, 2**23):
        x, y = torch.randn(n), torch.empty(n)
        exp = max(exp, n / best_seconds(lambda: torch.exp(x, out=y)) / 1e9)
    return {"gemm_gflop_per_s": gemm, "exp_gelement_per_s": exp}


def compute_fraction(job: dict, work: dict | None, peak: dict[str, float]) -> float | None:
    """Counted work at peak rates over the job's wall time after start-up (None without a count)."""
    if not work:
        return None
    ideal = work["gemm_flops"] / (peak["gemm_gflop_per_s"] * 1e9)
    ideal += work["transcendentals"] / (peak["exp_gelement_per_s"] * 1e9)
    return ideal / max(job["wall"] - (job["startup"] or 0.0), 1e-9)


def cost_table(found: list[dict], peak: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per rule and classifier: jobs, job-seconds (wall, and CPU), median wall and
    start-up, and the median compute fraction of its jobs that counted their work."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for job in found:
        groups.setdefault((job["rule"], job["model"]), []).append(job)
    rows = []
    for (rule, model), group in sorted(groups.items()):
        startups = [j["startup"] for j in group if j["startup"] is not None]
        cpus = [j["cpu"] for j in group if j["cpu"] is not None]
        fractions = [f for j in group if peak and (f := compute_fraction(j, j["work"], peak)) is not None]
        rows.append(
            {
                "rule": rule,
                "model": model,
                "jobs": len(group),
                "job_seconds": sum(j["wall"] for j in group),
                "cpu_seconds": sum(cpus) if len(cpus) == len(group) else None,
                "wall_median_s": statistics.median(j["wall"] for j in group),
                "startup_median_s": statistics.median(startups) if startups else None,
                "compute_fraction": statistics.median(fractions) if fractions else None,
                "counted_jobs": len(fractions),
            }
        )
    return pd.DataFrame(rows)


def write_cost(run: str | Path, out_csv: str | Path, threads: int = 1) -> pd.DataFrame:
    """The run's cost table (jobs run so far: this table's own job and those after it are not in
    it). Peak rates are measured only when some job counted its work."""
    found = jobs(run)
    peak = peaks(threads) if any(j["work"] for j in found) else None
    table = cost_table(found, peak)
    if peak:
        for name, value in peak.items():
            table[f"peak_{name}"] = value
    write_frame(out_csv, table)
    log.info("%d jobs, %.0f job-seconds", table["jobs"].sum(), table["job_seconds"].sum())
    return table
