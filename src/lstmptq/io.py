"""Results files: written so that no half-written result is left behind, read so that a bad one
is refused with a message saying how to rebuild it; and run provenance.

Every writer goes through `atomic_path`: the content is written to a temporary file in the
target's folder and renamed into place only when writing succeeded, so a killed job leaves
either the old file, no file, or a `.tmp` file that no rule reads. Beside each file it writes a
hidden `.<name>.sha256` with the SHA-256 of what the job wrote.

Every reader raises `ResultFileError` for a missing, truncated or corrupted file, and for one
whose content no longer matches its `.sha256` (edited by hand, or replaced by a stale copy): it
names the file, says what is wrong and ends with the command that rebuilds it. This guards
against accidents, not forgery. Torch files (checkpoints, Brevitas states) also carry a SHA-256
over their content inside (`save_torch`), checked at every load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, checksum: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds, and record
    its SHA-256 beside it (`checksum=False`: a file no job reads back, such as a figure)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes 0600, and some writers (safetensors) recreate the file: set the mode of
        # an ordinary file only now, after the writer, so results are shared like any file
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        digest = file_sha256(tmp_path) if checksum else None
        os.replace(tmp_path, target)
        if digest:  # after the rename: a kill between the two leaves a file that fails its check
            _write_checksum(target, digest)
    finally:
        tmp_path.unlink(missing_ok=True)


def file_sha256(path: str | os.PathLike) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def checksum_path(path: str | os.PathLike) -> Path:
    """The hidden file beside `path` that holds the SHA-256 its writer recorded."""
    target = Path(path)
    return target.with_name(f".{target.name}.sha256")


def _write_checksum(target: Path, digest: str) -> None:
    with atomic_path(checksum_path(target), checksum=False) as tmp:
        tmp.write_text(f"{digest}  {target.name}\n", encoding="utf-8")  # the format of `sha256sum`


def verify(path: str | os.PathLike, *, self_checked: bool = False) -> None:
    """Refuse a results file whose content is not what its job wrote (ResultFileError).
    `self_checked`: the file carries its own checksum inside (torch files), so it may travel
    without its `.sha256` (a checkpoint copied elsewhere); where there is one, it must match."""
    if not Path(path).is_file():
        raise ResultFileError(path, "not found")
    side = checksum_path(path)
    if self_checked and not side.exists():
        return
    try:
        recorded = side.read_text(encoding="utf-8").split()[0]
    except (FileNotFoundError, IndexError, UnicodeDecodeError):
        raise ResultFileError(
            path,
            f"has no checksum beside it ({side.name}): it was not written by this workflow's jobs, "
            "or by an older version of them",
        ) from None
    if file_sha256(path) != recorded:
        raise ResultFileError(
            path, f"content does not match the checksum its job recorded ({side.name}): the file was edited or replaced"
        )


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")


class ResultFileError(ValueError):
    """A results file that cannot be used: the message names it, says what is wrong and how to rebuild it."""

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(path, problem)
        self.path, self.problem = path, problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; rebuild it with: snakemake {self.path} --force"


@contextlib.contextmanager
def reading(path: str | os.PathLike, what: str, *format_errors: type[BaseException]) -> Iterator[None]:
    """Turn a failed read of the results file `path` into a ResultFileError: missing, not UTF-8,
    or (one of `format_errors`, what its reader raises for bad content) truncated or not `what`."""
    try:
        yield
    except ResultFileError:
        raise
    except FileNotFoundError as err:
        raise ResultFileError(path, "not found") from err
    except UnicodeDecodeError as err:
        raise ResultFileError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from err
    except format_errors as err:
        # the first sentence says what failed; torch goes on with advice that does not apply here
        # (retrying with weights_only=False, which would run code from the file)
        first = re.split(r"\.\s|\n", str(err), maxsplit=1)[0]
        raise ResultFileError(path, f"truncated or not {what} ({first})") from err


def read_json(path: str | os.PathLike) -> Any:
    with reading(path, "JSON", json.JSONDecodeError):  # its message gives the line and column
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    verify(path)  # after parsing: a truncated file is reported as truncated
    return content


def _table_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{path}: unsupported table format {suffix!r} (use .parquet or .csv)")
    return suffix


def write_frame(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as Parquet or CSV, chosen by the file extension."""
    suffix = _table_format(path)
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)


def read_frame(path: str | os.PathLike, **kwargs):
    """Read a table written by `write_frame` (Parquet or CSV, by extension); `kwargs` go to pandas."""
    import pandas as pd

    if _table_format(path) == ".parquet":
        from pyarrow import ArrowException

        with reading(path, "Parquet", ArrowException):
            frame = pd.read_parquet(path, **kwargs)
    else:
        with reading(path, "CSV", pd.errors.EmptyDataError, pd.errors.ParserError):
            frame = pd.read_csv(path, **kwargs)
    verify(path)  # after parsing: a truncated file is reported as truncated
    return frame


def content_sha256(header: dict[str, Any], tensors: dict[str, Any]) -> str:
    """SHA-256 over `header` (JSON with sorted keys, less its own "sha256" entry) and every tensor's
    name, dtype, shape and bytes: what a reader recomputes to refuse an edited or corrupted file."""
    sha = hashlib.sha256(json.dumps({k: v for k, v in header.items() if k != "sha256"}, sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        sha.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        sha.update(tensor.numpy().tobytes())
    return sha.hexdigest()


def save_torch(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """torch.save `payload`: a "format" number, JSON-able values and a "state_dict" of CPU tensors,
    plus a SHA-256 over all of them that `load_torch` checks."""
    import torch

    header = {k: v for k, v in payload.items() if k != "state_dict"}
    with atomic_path(path) as tmp:
        torch.save({**payload, "sha256": content_sha256(header, payload["state_dict"])}, tmp)


def load_torch(path: str | os.PathLike, fmt: int, what: str) -> dict[str, Any]:
    """A `save_torch` payload of format `fmt`, verified; `what` names the file's kind in errors.
    weights_only: loading never runs code from the file."""
    import torch

    with reading(path, f"a {what}", Exception):  # torch raises many types for truncated or foreign files
        payload = torch.load(path, map_location="cpu", weights_only=True)
    found = payload.get("format") if isinstance(payload, dict) else None
    if found != fmt:
        raise ResultFileError(path, f"{what} in format {found!r}, but this code reads format {fmt}")
    header = {k: v for k, v in payload.items() if k != "state_dict"}
    if payload.get("sha256") != content_sha256(header, payload.get("state_dict", {})):
        raise ResultFileError(path, "content does not match its checksum: the file was edited or corrupted")
    verify(path, self_checked=True)  # a stale copy of another run's checkpoint is consistent inside
    return payload


_PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "datasets", "snakemake", "brevitas", "safetensors")


# Environment variables that change which CPU kernels run, and so the float results.
_NUMERICS_ENV = (
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def _numerics() -> dict[str, Any]:
    """What decides floating-point results besides the code: CPU, torch build, dispatch, threads.

    Float results are bit-identical only where all of these agree. Torch facts are read only when
    this process already imported torch (a table or data job must not import it for this).
    """
    cpu = None
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), None)
    facts: dict[str, Any] = {"cpu": cpu or platform.processor() or platform.machine()}
    facts["env"] = {name: os.environ[name] for name in _NUMERICS_ENV if name in os.environ}
    torch = sys.modules.get("torch")
    if torch is not None:
        getters = {
            "version": lambda: torch.__version__,
            "git_version": lambda: torch.version.git_version,
            "cuda": lambda: torch.version.cuda,
            "mkl": torch.backends.mkl.is_available,
            "mkldnn": torch.backends.mkldnn.is_available,
            "mkldnn_enabled": lambda: bool(torch.backends.mkldnn.enabled),  # nn.LSTM on CPU runs oneDNN when on
            "cpu_capability": torch.backends.cpu.get_cpu_capability,  # the ISA ATen's kernels dispatch to
            "threads": torch.get_num_threads,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled,
        }
        facts["torch"] = {}
        for key, get in getters.items():
            try:
                facts["torch"][key] = get()
            except Exception:  # an older or stripped torch build: record what exists
                facts["torch"][key] = None
    return facts


def provenance(**extra: Any) -> dict[str, Any]:
    """Library versions and machine facts recorded beside every result."""
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {"versions": versions, "platform": platform.platform(), "numerics": _numerics(), **extra}
