"""Faults during a job: a write past the file-size limit, SIGTERM from a scheduler. Each runs a
tiny job in its own process; neither may leave a result or a temporary file behind."""

import json
import os
import signal
import subprocess
import sys

from conftest import REPO

JOB = """
import sys, time
from lstmptq.io import atomic_path, write_json
from lstmptq.runtime import run_step

def fill(target):
    write_json(target, {"data": "x" * 100_000})

def hang(target):
    with atomic_path(target) as tmp:
        tmp.write_text("half")
        print("writing", flush=True)
        time.sleep(30)

run_step(sys.argv[1], {"fill": fill, "hang": hang}[sys.argv[2]], target=sys.argv[3])
"""


def job(tmp_path, step: str, limit_kib: int | None = None) -> subprocess.Popen:
    """`step` as a job logging to tmp_path/job.log and writing tmp_path/out/cell.json."""
    command = [sys.executable, "-c", JOB, str(tmp_path / "job.log"), step, str(tmp_path / "out" / "cell.json")]
    if limit_kib is not None:  # bash's ulimit -f counts KiB
        command = ["bash", "-c", f'ulimit -f {limit_kib} && exec "$@"', "bash", *command]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPO / "src")}  # no .pyc beyond the limit
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_nothing_written(tmp_path):
    assert list((tmp_path / "out").iterdir()) == []  # neither cell.json nor .cell.json.*.tmp


def test_a_write_past_the_file_size_limit_fails_cleanly(tmp_path):
    process = job(tmp_path, "fill", limit_kib=1)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1, stderr  # an exception, not death by SIGXFSZ (-25)
    assert "step fill failed: [Errno 27] File too large" in (tmp_path / "job.log").read_text()
    assert_nothing_written(tmp_path)


def test_sigterm_removes_the_temporary_file_and_is_logged(tmp_path):
    process = job(tmp_path, "hang")
    assert process.stdout.readline() == "writing\n"
    assert len(list((tmp_path / "out").iterdir())) == 1  # the temporary file, mid-write
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "step hang terminated by SIGTERM" in (tmp_path / "job.log").read_text()
    assert_nothing_written(tmp_path)


def test_deterministic_mode_pins_what_decides_float_results():
    """`deterministic: true` (Snakefile -> DETERMINISTIC_ENV -> every job): one thread, oneDNN off,
    deterministic algorithms, and the kernel pins recorded in each result's provenance."""
    from lstmptq.runtime import DETERMINISTIC_ENV

    probe = (
        "import json, torch\n"
        "from lstmptq.io import provenance\n"
        "from lstmptq.runtime import set_threads\n"
        "set_threads(2)\n"
        "print(json.dumps(provenance()['numerics']))\n"
    )
    env = {**os.environ, **DETERMINISTIC_ENV, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    numerics = json.loads(result.stdout)
    assert numerics["torch"]["threads"] == 1 and numerics["torch"]["deterministic_algorithms"] is True
    assert numerics["torch"]["mkldnn_enabled"] is False
    assert numerics["env"]["MKL_CBWR"] == "COMPATIBLE" and numerics["env"]["ATEN_CPU_CAPABILITY"] == "avx2"
