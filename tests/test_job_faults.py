"""Faults during a job: a write past the file-size limit, SIGTERM from a scheduler, a bad input, a
bug. Each runs a tiny job in its own process; none may leave a result or a temporary file behind,
and each error reaches the user once: in the job's log, which Snakemake prints."""

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import REPO, snakemake

JOB = """
import sys, time
from lstmptq.config import ConfigError
from lstmptq.io import atomic_path, write_json
from lstmptq.runtime import run_step

def fill(target):
    write_json(target, {"data": "x" * 100_000})

def hang(target):
    with atomic_path(target) as tmp:
        tmp.write_text("half")
        print("writing", flush=True)
        time.sleep(30)

def refuse(target):
    raise ConfigError("config key `x` is 0; set it to 1")

def crash(target):
    return {}["missing"]

steps = {"fill": fill, "hang": hang, "refuse": refuse, "crash": crash}
run_step(sys.argv[1], steps[sys.argv[2]], target=sys.argv[3])
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


def test_a_known_error_is_logged_once_as_its_message(tmp_path):
    process = job(tmp_path, "refuse")
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1, stderr
    log = (tmp_path / "job.log").read_text()
    assert "ERROR __main__: step refuse failed: ConfigError: config key `x` is 0; set it to 1\n" in log
    assert log.count("config key `x`") == 1 and "Traceback" not in log
    assert stdout + stderr == ""  # Snakemake prints the log (show-failed-logs): no second copy


def test_an_unexpected_error_keeps_its_traceback_in_the_log_only(tmp_path):
    process = job(tmp_path, "crash")
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1, stderr
    log = (tmp_path / "job.log").read_text()
    assert "step crash failed: 'missing'" in log and log.count("Traceback (most recent call last)") == 1
    assert log.rstrip().endswith("KeyError: 'missing'") and ", in crash\n" in log  # down to the failing frame
    assert stdout + stderr == ""


@pytest.mark.workflow
def test_a_data_step_error_is_shown_once(tmp_path):
    """A real data job on a file without the configured column: its message once in all that
    Snakemake prints (the job's log, through show-failed-logs), and no traceback."""
    for split in ("train", "test"):
        (tmp_path / f"{split}.csv").write_text(f"title,y\n{split} one,a\n{split} two,b\n")
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(
        "datasets: [mine]\nsources:\n  mine: {kind: files, train: train.csv, test: test.csv, "
        "text_columns: [body], label_column: y}\n"
    )
    result = snakemake(tmp_path, "--cores", "1", "results/mine/data/labels.json", configfiles=(overlay,))
    said = result.stdout + result.stderr
    assert result.returncode != 0
    assert said.count("missing column(s) ['body']") == 1, said
    assert "Traceback" not in said
    assert "missing column(s) ['body']" in (tmp_path / "logs" / "prepare_data" / "mine.log").read_text()


def test_only_brevitas_known_harmless_warning_is_filtered():
    """A PTQ job's imports (brevitas among them) raise no warning; the same text from another
    module, another text from brevitas, and other warnings all still show."""
    probe = (
        "import warnings\n"
        "warnings.simplefilter('always')\n"
        "import lstmptq.stages.ptq  # imports brevitas, whose import warns\n"
        "from lstmptq.quant import HARMLESS_BREVITAS_WARNING as known\n"
        "print('imported', flush=True)\n"
        "for text, module in [(known, 'brevitas.graph.equalize'), (known + '!', 'brevitas.graph.equalize'),\n"
        "                     ('another warning', 'brevitas.nn'), (known, 'mine')]:\n"
        "    warnings.warn_explicit(text, UserWarning, 'x.py', 1, module=module)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert result.stdout == "imported\n"
    shown = [line for line in result.stderr.splitlines() if "UserWarning" in line]
    assert shown == [
        "x.py:1: UserWarning: fast_hadamard_transform package not found, using standard pytorch kernels!",
        "x.py:1: UserWarning: another warning",
        "x.py:1: UserWarning: fast_hadamard_transform package not found, using standard pytorch kernels",
    ], result.stderr


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
