"""What a config change reruns on a finished run, and what it must not: settings that change no
model (the flags' `checks:` thresholds, the `device` a job runs on) retrain and requantize nothing.

The finished run is the tiny workflow's files, empty, with Snakemake's metadata recorded by
`--touch` as after a real run (params, code, inputs): dry runs on it cost seconds, not a run."""

import pytest
import torch
from conftest import TINY_CONFIG, job_counts, snakemake

from lstmptq.config import ConfigError
from lstmptq.runtime import resolve_device

pytestmark = pytest.mark.workflow

TABLES_AND_AFTER = {
    "fp32_table": 1,
    "ptq_table": 1,
    "study_table": 1,
    "plots": 1,
    "verdicts": 1,
    "run_cost": 1,
    "all": 1,
}


@pytest.fixture(scope="module")
def finished_tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("touched")
    summary = snakemake(workdir, "--summary")
    assert summary.returncode == 0, summary.stderr[-3000:]
    outputs = [line.split("\t")[0] for line in summary.stdout.splitlines()[1:] if "\t" in line]
    assert len(outputs) > 50, summary.stdout[-3000:]
    for output in outputs:
        (workdir / output).parent.mkdir(parents=True, exist_ok=True)
        (workdir / output).touch()
    touched = snakemake(workdir, "--touch", "--cores", "1")
    assert touched.returncode == 0, touched.stderr[-3000:]
    return workdir


def dry_run(workdir, tmp_path, overlay: str):
    change = tmp_path / "change.yaml"
    change.write_text(overlay + "\n")
    result = snakemake(workdir, "-n", "--quiet", "rules", configfiles=(TINY_CONFIG, change))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.mark.parametrize("overlay", ["checks: {max_accuracy_step: 0.5}", "checks: {min_train_per_class: 5}"])
def test_a_new_check_threshold_reruns_only_the_tables_and_plots(finished_tiny_run, tmp_path, overlay):
    assert job_counts(dry_run(finished_tiny_run, tmp_path, overlay)) == TABLES_AND_AFTER


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_another_device_reruns_nothing(finished_tiny_run, tmp_path, device):
    said = dry_run(finished_tiny_run, tmp_path, f"device: {device}")
    assert "Nothing to be done" in said, said[-3000:]


def test_the_resolved_device_names_the_card(monkeypatch):
    """What each result records as `provenance.device`: `cpu`, or the CUDA device with its index."""
    assert str(resolve_device("auto")) == ("cuda:0" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    assert [str(resolve_device(s)) for s in ("auto", "cuda", "cuda:0", "cpu")] == ["cuda:1", "cuda:1", "cuda:0", "cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="config key `device` is 'cuda' but CUDA is not available here"):
        resolve_device("cuda")
