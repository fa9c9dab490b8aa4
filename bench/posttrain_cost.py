"""What did each stage of finished runs cost, and how does everything after training compare with
training? Sums the wall seconds (`s`) of Snakemake's per-job benchmark files,
`benchmarks/<rule>/<dataset>/...tsv`, and prints one `name: value` line per figure and run:

    python bench/posttrain_cost.py /path/to/run [/path/to/other_run ...]

- `<run>/rule/<rule>`: job-seconds of a rule, summed over its jobs (and `<run>/jobs/<rule>`);
- `<run>/posttrain_over_train`: job-seconds of every job that needs a trained model (PTQ cells,
  KS, noise curves, tables, plots) over the job-seconds of training;
- `<run>/cells_over_train`: the same for the grid cells alone (PTQ, KS, noise), the figure the speed work of Nov 2026
  started from (10.4);
- `<run>/ptq_cell/<model>`: median seconds of one PTQ cell, per classifier.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import pandas as pd

BEFORE_TRAINING = {"prepare_data", "tokenize", "tfidf_baseline", "calibration_subset", "noisy_test_set"}
CELLS = {"ptq", "ks_statistics", "evaluate_fp32", "evaluate_ptq"}


def job_seconds(run: Path) -> pd.DataFrame:
    """One row per job: rule, dataset, model (where the path has one) and wall seconds."""
    rows = []
    for tsv in sorted((run / "benchmarks").glob("*/**/*.tsv")):
        parts = tsv.with_suffix("").relative_to(run / "benchmarks").parts  # rule, dataset, [model, ...]
        model = parts[2] if len(parts) > 3 else None
        rows.append(
            {
                "rule": parts[0],
                "dataset": parts[1],
                "model": model,
                "seconds": float(pd.read_csv(tsv, sep="\t")["s"].sum()),
            }
        )
    if not rows:
        raise SystemExit(f"{run}: no benchmark files under {run / 'benchmarks'}; is it a finished workflow folder?")
    return pd.DataFrame(rows)


def report(run: Path) -> None:
    jobs = job_seconds(run)
    name = run.name
    for rule, group in jobs.groupby("rule"):
        print(f"{name}/rule/{rule}: {group['seconds'].sum():.1f}")
        print(f"{name}/jobs/{rule}: {len(group)}")
    train = jobs.loc[jobs["rule"] == "train", "seconds"].sum()
    after = jobs.loc[~jobs["rule"].isin(BEFORE_TRAINING | {"train"}), "seconds"].sum()
    cells = jobs.loc[jobs["rule"].isin(CELLS), "seconds"].sum()
    print(f"{name}/train_job_seconds: {train:.1f}")
    print(f"{name}/posttrain_job_seconds: {after:.1f}")
    print(f"{name}/posttrain_over_train: {after / train:.2f}")
    print(f"{name}/cells_over_train: {cells / train:.2f}")
    for model, group in jobs[jobs["rule"] == "ptq"].groupby("model"):
        print(f"{name}/ptq_cell/{model}: {statistics.median(group['seconds']):.1f}")
    for rule in ("evaluate_fp32", "evaluate_ptq"):
        for model, group in jobs[jobs["rule"] == rule].groupby("model"):
            print(f"{name}/{rule}_job/{model}: {statistics.median(group['seconds']):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="workflow folders of finished runs")
    for run in parser.parse_args().runs:
        report(run)


if __name__ == "__main__":
    main()
