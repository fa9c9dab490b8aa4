"""What a run checks before its first job (lstmptq.preflight): the project's run lock, the cores,
writable output folders. The lock is taken by other processes here, as by concurrent runs."""

import os
import subprocess
import sys

import pytest

from lstmptq import preflight

HOLD = """
import sys, time
from lstmptq import preflight
preflight.acquire(sys.argv[1])
print("held", flush=True)
sys.stdin.readline()  # hold until the test writes a line or closes stdin
"""


def holder(workdir):
    """A process that holds the run lock of `workdir` until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(workdir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_is_refused_while_the_first_holds_the_lock_and_names_it(tmp_path):
    first = holder(tmp_path)
    try:
        with pytest.raises(preflight.RunLockError, match=rf"another snakemake run .*\(pid {first.pid} on .*--nolock"):
            preflight.acquire(tmp_path)
    finally:
        first.communicate("\n", timeout=30)


def test_the_lock_is_free_once_its_holder_is_killed(tmp_path):
    first = holder(tmp_path)
    first.kill()  # kill -9: no cleanup runs, the kernel drops the lock
    first.wait(timeout=30)
    preflight.acquire(tmp_path)
    preflight.release()
    assert (tmp_path / preflight.LOCK_FILE).exists()  # left in place, but not locked: never stale


def test_removing_snakemakes_lock_folder_leaves_the_run_lock(tmp_path):
    """What a run that ends does to every run's Snakemake lock (`rm -r .snakemake/locks`)."""
    first = holder(tmp_path)
    try:
        (tmp_path / ".snakemake" / "locks").mkdir()
        os.rmdir(tmp_path / ".snakemake" / "locks")
        with pytest.raises(preflight.RunLockError):
            preflight.acquire(tmp_path)
    finally:
        first.communicate("\n", timeout=30)


@pytest.mark.parametrize("cores", [0, -1])
def test_zero_cores_is_refused(cores):
    with pytest.raises(ValueError, match=rf"--cores {cores}: a run needs at least one core"):
        preflight.check_cores(cores)


@pytest.mark.parametrize("cores", [None, 1, 8])
def test_cores_given_or_left_to_snakemake_pass(cores):
    preflight.check_cores(cores)


def test_a_read_only_results_folder_is_named(tmp_path, monkeypatch):
    results = tmp_path / "results" / "cell"
    results.mkdir(parents=True)
    # as if chmod a-w (CI runs as root, who may write anywhere): only `results` refuses writes
    monkeypatch.setattr(preflight.os, "access", lambda path, mode: str(path) != str(results))
    outputs = [results / "metrics.json", tmp_path / "results" / "new" / "deeper" / "x.json"]
    assert preflight.unwritable(outputs) == [str(results)]


def test_outputs_in_writable_folders_pass(tmp_path):
    assert preflight.unwritable([tmp_path / "a" / "b" / "c.json", tmp_path / "d.json"]) == []
