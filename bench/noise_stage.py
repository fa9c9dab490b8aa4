"""What did the noise stage of finished runs cost? Compare runs (e.g. before/after a change).

Reads Snakemake's per-job benchmark files of the noise cells (wall seconds `s`):
`benchmarks/evaluate_fp32/<dataset>/<model>/seed<seed>/<noise>/eps<eps>.tsv` and
`benchmarks/evaluate_ptq/<dataset>/<model>/seed<seed>/<strategy>/<method>/w<bits>/<noise>/eps<eps>.tsv`
(runs made before the noise-model axis, `benchmarks/<dataset>/<model>/seed<seed>/**/noise/eps<eps>.tsv`,
are read too), and the cells' own timings (`load_seconds`, `score_seconds`, `startup_seconds`
where recorded) of each run folder, and prints one `name: value` line per figure:
    python bench/noise_stage.py /path/to/run_before /path/to/run_after
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Iterator
from pathlib import Path

import pandas as pd


def cells(run: Path) -> Iterator[tuple[Path, str, bool, Path]]:
    """(benchmark file, model, quantized, the cell's metrics JSON) of every noise cell of a run."""
    from lstmptq.grid import path

    bench = run / "benchmarks"
    for rule, quantized in (("evaluate_fp32", False), ("evaluate_ptq", True)):
        for tsv in sorted((bench / rule).glob("*/*/seed*/**/eps*.tsv")):
            # dataset, model, seed<seed>, [strategy, method, recipe, scheme,] noise, eps<eps>.tsv
            parts = tsv.relative_to(bench / rule).with_suffix("").parts
            values = {
                "dataset": parts[0],
                "model": parts[1],
                "seed": parts[2].removeprefix("seed"),
                "noise": parts[-2],
                "eps": parts[-1].removeprefix("eps"),
            }
            if quantized:  # strategy, method, [recipe,] scheme: runs before the recipe axis had no recipe part
                cell = run / "results" / Path(*parts[:-2]) / "noise" / parts[-2] / f"{parts[-1]}.json"
                yield tsv, parts[1], quantized, cell
                continue
            yield tsv, parts[1], quantized, run / path("fp32_noise_cell", **values)
    # runs from before the noise-model axis: the benchmark file mirrored the cell's own path
    for tsv in sorted(bench.glob("*/*/seed*/**/noise/eps*.tsv")):
        parts = tsv.relative_to(bench).parts
        yield tsv, parts[1], parts[3] != "fp32", run / "results" / tsv.relative_to(bench).with_suffix(".json")


def noise_jobs(run: Path) -> pd.DataFrame:
    rows = []
    for tsv, model, quantized, cell in cells(run):
        timings = json.loads(cell.read_text()) if cell.exists() else {}
        rows.append(
            {
                "model": model,
                "quantized": quantized,
                "job_seconds": float(pd.read_csv(tsv, sep="\t")["s"].iloc[0]),
                **{k: timings.get(k) for k in ("load_seconds", "score_seconds", "startup_seconds")},
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="workflow folders of finished runs")
    args = parser.parse_args()
    totals = []
    for run in args.runs:
        jobs = noise_jobs(run)
        if jobs.empty:
            raise SystemExit(f"{run}: no noise-cell benchmark files under benchmarks/")
        name = run.name
        totals.append(jobs["job_seconds"].sum())
        print(f"{name}/noise_jobs: {len(jobs)}")
        print(f"{name}/noise_job_seconds_total: {totals[-1]:.0f}")
        for (model, quantized), group in jobs.groupby(["model", "quantized"]):
            label = f"{name}/{model}/{'quantized' if quantized else 'fp32'}"
            print(f"{label}/median_job_seconds: {statistics.median(group['job_seconds']):.2f}")
            for column in ("score_seconds", "startup_seconds"):
                if group[column].notna().any():
                    print(f"{label}/median_{column}: {statistics.median(group[column].dropna()):.2f}")
    if len(totals) == 2:
        print(f"noise_job_seconds_before_over_after: {totals[0] / totals[1]:.2f}")


if __name__ == "__main__":
    main()
