"""Are two runs' tables the same? Compare every table of two finished workflow folders.

For each CSV under results/*/tables/ of both runs, prints `<table>: identical` (byte for byte),
or `<table>: equal except <columns>` (the values of every other column equal exactly, row for
row), or `<table>: DIFFERENT (<why>)`. Timing columns (`*seconds*`) differ between any two runs
and are listed, not compared; so are columns only one run has. With `--seed S` only the rows of
seed S are compared (e.g. a one-seed run against a three-seed one); tables without a `seed`
column (summaries over seeds) are then skipped.
    python bench/compare_tables.py /path/to/run_before /path/to/run_after [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def compare(before: Path, after: Path, seed: int | None = None) -> str:
    if seed is None and before.read_bytes() == after.read_bytes():
        return "identical"
    a, b = pd.read_csv(before, keep_default_na=False), pd.read_csv(after, keep_default_na=False)
    if seed is not None:
        if "seed" not in a.columns or "seed" not in b.columns:
            return "skipped (no seed column)"
        a, b = (t[t["seed"].astype(str) == str(seed)].reset_index(drop=True) for t in (a, b))
    if len(a) != len(b):
        return f"DIFFERENT ({len(a)} vs {len(b)} rows)"
    skipped = sorted(
        {c for c in a.columns.symmetric_difference(b.columns)}
        | {c for c in a.columns.intersection(b.columns) if "seconds" in c}
    )
    common = [c for c in a.columns if c in b.columns and c not in skipped]
    differing = [c for c in common if not a[c].astype(str).equals(b[c].astype(str))]
    if differing:
        return f"DIFFERENT (columns {differing}; skipped {skipped})"
    return f"equal except {skipped}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--seed", type=int, help="compare only this seed's rows")
    args = parser.parse_args()
    tables = sorted(p.relative_to(args.before) for p in args.before.glob("results/*/tables/*.csv"))
    if not tables:
        raise SystemExit(f"{args.before}: no tables under results/*/tables/")
    for table in tables:
        other = args.after / table
        print(
            f"{table}: "
            f"{compare(args.before / table, other, args.seed) if other.exists() else 'MISSING in ' + str(args.after)}"
        )


if __name__ == "__main__":
    main()
