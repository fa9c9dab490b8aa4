"""File output that never leaves a half-written result behind, and run provenance.

Every writer goes through `atomic_path`: the content is written to a temporary file in the
target's folder and renamed into place only when writing succeeded, so a killed job leaves
either the old file, no file, or a `.tmp` file that no rule reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it to `path` if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are shared like any file
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_frame(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as Parquet or CSV, chosen by the file extension."""
    suffix = Path(path).suffix
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            raise ValueError(f"{path}: unsupported table format {suffix!r} (use .parquet or .csv)")


_PACKAGES = ("torch", "numpy", "pandas", "scikit-learn", "datasets", "snakemake", "brevitas", "safetensors")


def provenance(**extra: Any) -> dict[str, Any]:
    """Library versions and machine facts recorded beside every result."""
    versions = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {"versions": versions, "platform": platform.platform(), **extra}
