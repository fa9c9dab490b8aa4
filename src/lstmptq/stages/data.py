"""Data stage: a configured source -> stratified train/valid/test tables and the label names."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lstmptq.config import source_fingerprints
from lstmptq.data.sources import load_source
from lstmptq.io import provenance, write_frame, write_json

log = logging.getLogger(__name__)


def prepare_data(name: str, spec: dict[str, Any], split_files: dict[str, str | Path], labels_file: str | Path) -> None:
    """Source -> one parquet (text, label) per split in `split_files`, and labels.json."""
    files = source_fingerprints(spec, cache_file=None)  # what this step reads, hashed here and not taken from a cache
    splits = load_source(name, spec)
    names = splits.label_names
    counts = {}
    for split, frame in splits.frames.items():
        write_frame(split_files[split], frame)
        per_class = frame["label"].value_counts().reindex(range(len(names)), fill_value=0)
        counts[split] = dict(zip(names, per_class.tolist()))
        log.info("%s: %d documents; per class %s", split, len(frame), counts[split])
    write_json(
        labels_file,
        {
            "dataset": name,
            "label_names": names,
            "counts": counts,
            "dropped_empty_texts": splits.dropped_empty,
            "duplicates": splits.duplicates,  # documents shared between splits, see data.check_duplicates
            "decoding": splits.decoding,  # local text files: encoding and bytes replaced by U+FFFD
            "source": spec,
            "fingerprints": files,  # split -> sha256 and size of a local file (the data rule's params hold them too)
            "provenance": provenance(),
        },
    )
