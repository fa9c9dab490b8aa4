"""Content fingerprints of input files, so that reruns follow what a file holds, not its times.

Snakemake decides from modification times whether an input changed: a file replaced by an older
copy (`cp -p`, an unpacked archive) goes unnoticed, and a project copied to another machine gets
new times throughout. A rule that takes a file's fingerprint (SHA-256 and size) as a param reruns
when the content changes (Snakemake's params trigger) and only then.

Params are evaluated at every DAG build, so hashes are cached in a small JSON file, keyed by the
file's resolved path, size, st_mtime_ns, st_ctime_ns and inode: any write to the file changes
one of them, and a cache hit reads none of its bytes. A damaged cache is ignored and rewritten.
Stdlib only: the Snakefile imports this.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lstmptq.io import atomic_path, file_sha256

CACHE_FILE = Path(".snakemake") / "lstmptq-fingerprints.json"  # beside Snakemake's own metadata
CACHE_FORMAT = 1


def fingerprint(path: str | os.PathLike, cache_file: str | os.PathLike | None = CACHE_FILE) -> dict[str, object]:
    """{"sha256": ..., "size": ...} of `path`; `cache_file=None` hashes without a cache."""
    return fingerprints([path], cache_file)[str(path)]


def fingerprints(
    paths: list[str | os.PathLike], cache_file: str | os.PathLike | None = CACHE_FILE
) -> dict[str, dict[str, object]]:
    """{path as given: {"sha256", "size"}} of each of `paths`, hashing only files the cache does not know."""
    cache = _read_cache(cache_file) if cache_file is not None else {}
    found, changed = {}, False
    for path in paths:
        resolved = Path(path).resolve()
        stat = resolved.stat()
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        entry = cache.get(str(resolved))
        if not (isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("sha256"), str)):
            entry = {"stamp": stamp, "sha256": file_sha256(resolved)}
            cache[str(resolved)] = entry
            changed = True
        found[str(path)] = {"sha256": entry["sha256"], "size": stat.st_size}
    if changed and cache_file is not None:
        _write_cache(Path(cache_file), cache)
    return found


def _read_cache(cache_file: str | os.PathLike) -> dict[str, dict]:
    try:
        cached = json.loads(Path(cache_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, unreadable or damaged: hash again
        return {}
    files = cached.get("files") if isinstance(cached, dict) and cached.get("format") == CACHE_FORMAT else None
    return files if isinstance(files, dict) else {}


def _write_cache(cache_file: Path, files: dict[str, dict]) -> None:
    # atomic: a reader (another snakemake, a cluster job parsing the Snakefile) sees the old cache
    # or the new one, never half of one
    try:
        with atomic_path(cache_file, checksum=False) as tmp:
            tmp.write_text(json.dumps({"format": CACHE_FORMAT, "files": files}), encoding="utf-8")
    except OSError:  # a read-only project: the cache only saves time, the hashes are still right
        pass
