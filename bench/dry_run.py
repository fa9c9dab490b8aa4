"""How long does Snakemake take to build the DAG (`snakemake -n`)? Compare checkouts side by side.

Times `snakemake -n --quiet` of each given Snakefile (e.g. this checkout and an older clone) on
the default grid and on each preset, alternating checkouts within each repeat so machine noise
hits both alike, and prints one `name: value` line per figure (median wall seconds):
    python bench/dry_run.py Snakefile /tmp/old_checkout/Snakefile --repeats 5
Also reports whether building the DAG imported torch, matplotlib, seaborn, scipy or brevitas
(it must not; Snakemake itself imports pandas and numpy) and which lstmptq modules it loaded.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = """
import sys
from snakemake.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("torch", "matplotlib", "brevitas", "seaborn", "scipy") if m in sys.modules)
print("HEAVY_MODULES=" + ",".join(heavy))
print("PACKAGE_MODULES=" + ",".join(sorted(m for m in sys.modules if m.startswith("lstmptq"))))
sys.exit(code)
"""


def dry_run(snakefile: Path, preset: Path | None) -> tuple[float, str]:
    with tempfile.TemporaryDirectory() as workdir:
        configs = [str(snakefile.parent / "config.yaml"), *([str(snakefile.parent / preset)] if preset else [])]
        cmd = [
            sys.executable,
            "-c",
            PROBE,
            "-n",
            "--quiet",
            "rules",
            "--snakefile",
            str(snakefile),
            "--directory",
            workdir,
            "--configfile",
            *configs,
        ]
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{snakefile} ({preset or 'default'}): dry run failed:\n{result.stderr[-2000:]}")
    lines = dict(
        line.split("=", 1)
        for line in result.stdout.splitlines()
        if line.startswith(("HEAVY_MODULES=", "PACKAGE_MODULES="))
    )
    return seconds, f"{lines.get('HEAVY_MODULES') or 'none'} (package modules: {lines.get('PACKAGE_MODULES', '?')})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snakefiles", nargs="+", type=Path)
    parser.add_argument(
        "--presets", nargs="*", default=["config/ag_news.yaml"], help="config overlays, relative to each checkout"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    grids = [None, *map(Path, args.presets)]
    times: dict[tuple[str, str], list[float]] = {}
    heavy: dict[tuple[str, str], str] = {}
    for _ in range(args.repeats):
        for grid in grids:
            for snakefile in args.snakefiles:
                key = (str(snakefile.resolve().parent), grid.stem if grid else "default")
                seconds, heavy[key] = dry_run(snakefile.resolve(), grid)
                times.setdefault(key, []).append(seconds)
    for (checkout, grid), values in times.items():
        print(f"{checkout}/{grid}/dry_run_seconds: {statistics.median(values):.2f}")
        print(f"{checkout}/{grid}/heavy_imports: {heavy[(checkout, grid)]}")


if __name__ == "__main__":
    main()
