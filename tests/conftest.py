import os
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
