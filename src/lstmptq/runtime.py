"""What every job does first: log to its Snakemake log, set threads, seeds and device.

Imported by the Snakefile (for `DETERMINISTIC_ENV`): stdlib only at import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import threading

from lstmptq.config import ConfigError
from lstmptq.grid import benchmark_of
from lstmptq.io import atomic_path
from lstmptq.registry import register

# `deterministic: true`: the same float results on any x86 CPU with AVX2, whatever its own kernels
# (bench/determinism.py measures it). Set by the Snakefile for every job, so they are in place
# before the job imports torch: ATen's kernels at the AVX2 level, MKL's code path that gives the
# same results on every CPU, one thread; and in `set_threads`: oneDNN off (nn.LSTM then runs ATen's
# cell on MKL) and torch's deterministic algorithms.
DETERMINISTIC_ENV = {
    "LSTMPTQ_DETERMINISTIC": "1",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "COMPATIBLE",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def setup_logging(log_path: str | None = None) -> None:
    """Log to the job's log file, one timestamped line per message, Python warnings included; to
    stderr only without a log file. Not both: Snakemake prints a failed job's log
    (`show-failed-logs` in the profiles), so a copy on stderr would show every error twice."""
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8") if log_path else logging.StreamHandler()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=[handler], force=True
    )
    logging.captureWarnings(True)


def deterministic() -> bool:
    return os.environ.get("LSTMPTQ_DETERMINISTIC") == "1"


def set_threads(threads: int) -> None:
    """Use exactly the job's Snakemake `threads`, so parallel jobs do not oversubscribe cores
    (one in deterministic mode, whose rules ask for one)."""
    import torch

    if deterministic():
        if torch.backends.cpu.get_cpu_capability() != "AVX2":  # the pin took no effect: other kernels
            raise ConfigError(
                f"config key `deterministic` is true, which needs an x86 CPU with AVX2; torch dispatches to "
                f"{torch.backends.cpu.get_cpu_capability()} here. Set `deterministic: false`"
            )
        torch.backends.mkldnn.enabled = False
        torch.use_deterministic_algorithms(True)
        threads = 1
    torch.set_num_threads(max(1, int(threads)))


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(setting: str):
    """`auto` -> CUDA when present, else CPU; anything else is passed to torch.device. A CUDA
    device comes with its index (`cuda:0`), so that the results record which card ran them."""
    import torch

    if deterministic():  # GPU kernels cannot reproduce the CPU's results
        if setting not in ("auto", "cpu"):
            raise ConfigError(
                f"config key `device` is {setting!r}, but `deterministic: true` runs on the CPU; use `auto` or `cpu`"
            )
        return torch.device("cpu")
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(setting)
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        raise ConfigError(f"config key `device` is {setting!r} but CUDA is not available here; use `auto` or `cpu`")
    return device if device.index is not None else torch.device("cuda", torch.cuda.current_device())


def process_seconds() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere): a job's fixed cost."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            started = int(stat.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
            return float(uptime.read().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return None


BENCHMARK_COLUMNS = ("s", "h:m:s", "max_rss", "io_in", "io_out", "cpu_time")


def write_benchmark(path: str) -> None:
    """One row in the columns of Snakemake's `benchmark:` files that getrusage and /proc measure
    exactly: wall seconds since the process started (interpreter start-up included), peak resident
    memory and bytes read/written from storage in MB, user + system CPU seconds of the job and its
    children. Written last, so a failed job leaves none; its wall time misses only interpreter exit."""
    import resource
    import time

    wall = process_seconds()
    if wall is None:  # not Linux: no process start time to measure from
        return
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    io = {}
    with contextlib.suppress(OSError):
        with open("/proc/self/io") as handle:
            io = dict(line.split(": ") for line in handle.read().splitlines())
    row = (
        f"{wall:.4f}",
        time.strftime("%H:%M:%S", time.gmtime(wall)),
        f"{max(own.ru_maxrss, children.ru_maxrss) / 1024:.2f}",  # KB on Linux
        *(f"{int(io[k]) / 2**20:.2f}" if k in io else "NA" for k in ("read_bytes", "write_bytes")),
        f"{own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime:.2f}",
    )
    with atomic_path(path, checksum=False) as tmp:
        tmp.write_text("\t".join(BENCHMARK_COLUMNS) + "\n" + "\t".join(row) + "\n")


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread; a SystemExit, so the job exits with status 143."""


def _terminate(signum, frame):
    raise Terminated(128 + signum)


@contextlib.contextmanager
def _job_signals():
    """For the step's duration, turn the signals that would kill the job outright into exceptions,
    so `finally` blocks run and `atomic_path` removes its temporary file:

    - SIGXFSZ (a write past the file-size limit, `ulimit -f`): ignored, the write raises OSError(EFBIG)
      (the `python` binary already ignores it at start-up; an embedding interpreter may not);
    - SIGTERM (a scheduler cancelling the job): raises `Terminated`.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    handlers = {signal.SIGXFSZ: signal.SIG_IGN, signal.SIGTERM: _terminate}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def export_pythonpath(src: str) -> None:
    """Put this checkout's src/ first on the import path of every job the workflow starts (jobs
    inherit the environment, also through sbatch and --sdm conda), so the code that runs is the
    code next to the Snakefile, whatever else is installed."""
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)


def explains_itself(err: BaseException) -> bool:
    """An error this package defines (ConfigError, DataError, ResultFileError, ...): raised on
    purpose, its message names the file or config key and what to do, and a traceback would only
    bury it. Anything else (a KeyError, torch's RuntimeError, an extension's own error) may be a bug."""
    return any(cls.__module__.partition(".")[0] == __package__ for cls in type(err).__mro__)


@contextlib.contextmanager
def _counting(log: logging.Logger):
    """With LSTMPTQ_COUNT_WORK=1 in the environment, count the step's FLOPs and transcendentals
    (lstmptq.profiling) and log them as one `work: {...}` line; otherwise nothing."""
    if os.environ.get("LSTMPTQ_COUNT_WORK") != "1":
        yield
        return
    import json

    from lstmptq.profiling import WorkCounter

    with WorkCounter() as counter:
        yield
    log.info("work: %s", json.dumps(counter.summary()))


def run_step(log_path: str | None, step, extensions: dict | None = None, **kwargs):
    """Run a workflow step with logging to its log file; a failure lands there once: a known error
    as its message, anything else with its traceback. The job then exits with status 1 without
    printing it again (Snakemake prints the log). `extensions` (the config's entries the job
    uses, from its rule's params: workflow/rules/common.smk, extension_params) are registered
    first, so the step finds the variants they add."""
    setup_logging(log_path)
    log = logging.getLogger(step.__module__)
    if (started := process_seconds()) is not None:  # the job's fixed cost so far (bench/roofline.py reads it)
        log.info("step %s: start-up %.2f s (interpreter, imports, Snakemake's preamble)", step.__name__, started)
    try:
        with _job_signals(), _counting(log):
            register(extensions)
            result = step(**kwargs)
        if log_path and (benchmark := benchmark_of(str(log_path))):
            write_benchmark(benchmark)
        return result
    except Terminated:
        log.error("step %s terminated by SIGTERM", step.__name__)
        raise
    except Exception as err:
        if explains_itself(err):
            log.error("step %s failed: %s: %s", step.__name__, type(err).__name__, err)
        else:  # the error on the first line too: a full disk may cut the traceback
            log.exception("step %s failed: %s", step.__name__, err)
        raise SystemExit(1) from None
