"""The SLURM profile on a real one-node SLURM cluster (started by cluster/local_slurm.sh).

Runs where it can start one: as root on Debian (CI). Elsewhere it skips and says why.
"""

import importlib.util
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO, snakemake

pytestmark = pytest.mark.workflow
SCRIPT = REPO / "cluster" / "local_slurm.sh"


def cannot_run() -> str | None:
    if os.environ.get("LSTMPTQ_SKIP_SLURM"):
        return "LSTMPTQ_SKIP_SLURM is set"
    if os.geteuid() != 0:
        return "starting a SLURM cluster needs root (it installs packages and starts daemons)"
    if not (shutil.which("slurmctld") or shutil.which("apt-get")):
        return "no SLURM here and no apt-get to install Debian's slurm-wlm"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (it is in the [test] extra)"
    return None


@pytest.fixture(scope="module")
def cluster():
    if reason := cannot_run():
        pytest.skip(reason)
    started = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True, timeout=900)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        yield
    finally:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=120)


def slurm_profile(tmp_path):
    """profiles/slurm with this test cluster's settings: its one partition, fast status polling."""
    profile = tmp_path / "profile"
    shutil.copytree(REPO / "profiles" / "slurm", profile)
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    settings.update(
        {
            "slurm-init-seconds-before-status-checks": 2,
            "jobs": 4,
            "latency-wait": 5,
            "retries": 0,
            "cores": os.cpu_count(),
        }
    )
    settings["resources"]["mem_mb"] = 8000
    (profile / "config.yaml").write_text(yaml.safe_dump(settings))
    (profile / "partitions.yaml").write_text(
        yaml.safe_dump({"partitions": {"debug": {"max_runtime": 600, "max_threads": os.cpu_count()}}})
    )
    return profile


def tables(root):
    """The numbers a run produces (timing columns left out: they differ between any two runs)."""
    timing = re.compile(r"seconds|epoch_seconds")
    out = {}
    for name in ("fp32_accuracy.csv", "ptq_accuracy.csv", "study.csv", "ks.csv"):
        frame = pd.read_csv(root / "results" / "bbc_tiny" / "tables" / name, keep_default_na=False)
        out[name] = frame[[c for c in frame.columns if not timing.search(c)]]
    return out


def test_tiny_workflow_through_sbatch_equals_a_local_run(cluster, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "slurm"
    result = snakemake(local, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    # subprocess's timeout kills a run that hangs (the plugin can wait forever on a bad status query)
    result = snakemake(remote, "--workflow-profile", str(slurm_profile(tmp_path)), timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]

    # every job went through sbatch, bundled as the profile says: job arrays (several Snakemake
    # IDs per sbatch), groups of PTQ cells with their noise curves (a group id per sbatch), the
    # rest one job per sbatch; slurmctld accepted each submission
    arrays = re.findall(r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)", output)
    single = re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output)
    grouped = re.findall(r"Job ([0-9a-f-]{36}) has been submitted with SLURM jobid (\d+)", output)
    assert arrays and grouped, "the profile's job arrays and groups were not used"
    ctld = subprocess.run([str(SCRIPT), "log"], capture_output=True, text=True, timeout=60).stdout
    accepted = set(re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", ctld))
    assert {slurm_id for _, slurm_id in arrays + single + grouped} <= accepted
    assert re.findall(r"^localrule (\w+):", output, re.M) == ["all"]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", output, re.M))
    in_groups = int(counts["ptq"]) + int(counts["evaluate_ptq"])
    in_arrays = sum(len(ids.split(",")) for ids, _ in arrays)
    assert in_arrays + len(single) + in_groups == int(counts["total"]) - 1  # all but the local `all`
    assert len(grouped) >= in_groups / (2 * 4)  # at most 4 cells (PTQ + noise curve) per group

    for name, frame in tables(local).items():
        pd.testing.assert_frame_equal(tables(remote)[name], frame, check_exact=False, rtol=1e-9, obj=name)
