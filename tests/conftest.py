import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Tests never use the network; huggingface_hub reads this once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"


def snakemake(workdir: Path, *args: str, configfiles=(TINY_CONFIG,), timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the workflow's CLI in `workdir` (results go there, not into the repo)."""
    cmd = [
        sys.executable, "-m", "snakemake", *args,
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(REPO / "config.yaml"), *map(str, configfiles),
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run."""
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def rerun_reason(output: str, reason: str) -> list[str]:
    """The rules that a dry run's 'Reasons:' section lists under `reason` (e.g. 'params have changed')."""
    match = re.search(rf"^    {re.escape(reason)}[^\n]*:\n        ([^\n]+)", output, re.M)
    return match[1].split(", ") if match else []


def touched_run(workdir: Path, configfiles=(TINY_CONFIG,)) -> Path:
    """`workdir` as after a finished run of `configfiles`: every output there, empty, with Snakemake's
    metadata (params, code, inputs) recorded by `--touch --forceall`. Dry runs on it cost seconds."""
    summary = snakemake(workdir, "--summary", configfiles=configfiles)
    assert summary.returncode == 0, summary.stderr[-3000:]
    for line in summary.stdout.splitlines()[1:]:
        output = workdir / line.split("\t")[0]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.touch()
    touched = snakemake(workdir, "--touch", "--forceall", "--cores", "1", configfiles=configfiles)
    assert touched.returncode == 0, touched.stderr[-3000:]
    return workdir


@pytest.fixture
def run_snakemake():
    return snakemake


@pytest.fixture(autouse=True)
def registries_as_shipped():
    """A config's `extensions` add to the registries of this process: undo that after each test."""
    from lstmptq import registry

    saved = {name: dict(entries) for name, entries in registry.REGISTRIES.items()}
    yield
    for name, entries in registry.REGISTRIES.items():
        entries.clear()
        entries.update(saved[name])


@pytest.fixture
def root_logging_restored():
    """run_step points the root logger at the job's log: give the test process its handlers back."""
    handlers, level = list(logging.root.handlers), logging.root.level
    yield
    for handler in logging.root.handlers:
        handler.close()
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)
    logging.captureWarnings(False)
