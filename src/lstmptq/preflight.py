"""What a run checks before its first job: the cores it was given, that it can write its outputs,
and that no other run works in the same folder. Stdlib only (the Snakefile imports it).

The run lock. Snakemake's lock covers only the files a run will write, so a second run on a disjoint target
starts; and when any run ends, Snakemake removes the whole `.snakemake/locks` folder, the first
run's lock included (`persistence/file.py`, `_delete_locks`), so a third run is not refused
either, and may rebuild a cell the first is writing. This lock is an exclusive `flock` on
`.snakemake/lstmptq-run.lock`, taken by the Snakefile's `onstart` (the main process of a run that
executes jobs: not dry runs, not the jobs themselves) and held until that process exits. The
kernel drops it when the process ends, killed or not, so it is never left stale.

`snakemake --nolock` skips it, with Snakemake's own lock: for a user who runs two studies on
disjoint outputs on purpose.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

LOCK_FILE = Path(".snakemake") / "lstmptq-run.lock"

_held: list = []  # the open lock file: closing it (or exiting) releases the lock


class RunLockError(RuntimeError):
    """Another run holds this project folder."""


def acquire(workdir: str | os.PathLike = ".") -> None:
    """Take the project's run lock for this process, or raise RunLockError naming its holder."""
    path = Path(workdir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the process's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = _describe(handle.read())
        handle.close()
        raise RunLockError(
            f"another snakemake run is working in this folder ({holder}; lock file {path}). "
            "Wait for it to finish, or stop it; two runs in one folder can rebuild each other's cells. "
            "To run on disjoint targets on purpose, pass --nolock (this skips Snakemake's own lock too)"
        ) from None
    handle.seek(0)
    handle.truncate()
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    handle.write(json.dumps({**holder, "command": " ".join(sys.argv)}) + "\n")
    handle.flush()
    _held.append(handle)


def release() -> None:
    """Release the lock this process holds (the end of the process does the same)."""
    while _held:
        _held.pop().close()


def _describe(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}: {holder['command']}"
    except (ValueError, KeyError, TypeError):
        return "its holder is not recorded"


def check_cores(cores: int | None) -> None:
    """`--cores 0` makes Snakemake wait forever for a free core: refuse it at once."""
    if cores is not None and cores < 1:
        raise ValueError(f"--cores {cores}: a run needs at least one core; use --cores N with N >= 1 (or --cores all)")


def unwritable(outputs) -> list[str]:
    """The folders among `outputs`' (the files a run will write) that this user cannot write to.
    Snakemake would otherwise fail in its own code when it clears a job's old outputs, with a
    traceback that names no folder."""
    blocked = []
    for folder in sorted({os.path.dirname(os.path.abspath(str(f))) for f in outputs}):
        existing = Path(folder)
        while not existing.exists():  # the nearest folder that exists is the one Snakemake writes into
            existing = existing.parent
        if not os.access(existing, os.W_OK | os.X_OK):
            blocked.append(str(existing))
    return sorted(set(blocked))
