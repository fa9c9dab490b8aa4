"""Tokenize stage: a vocabulary from the train split only, and every split encoded with it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from lstmptq.data.tokenizer import UNK_ID, Tokenizer
from lstmptq.io import read_frame, write_frame, write_json

log = logging.getLogger(__name__)


def tokenize(
    split_files: dict[str, str | Path],
    token_files: dict[str, str | Path],
    vocab_file: str | Path,
    stats_file: str | Path,
    settings: dict[str, Any],
) -> None:
    """Split tables (text, label) -> token tables (ids, label), vocab.json and stats.json."""
    frames = {s: read_frame(f) for s, f in split_files.items()}
    tokenizer = Tokenizer.build(
        frames["train"]["text"], settings["min_freq"], settings["max_size"], settings["max_len"]
    )
    stats: dict[str, Any] = {"vocab_size": len(tokenizer), "settings": settings}
    for split, frame in frames.items():
        ids = tokenizer.encode_many(frame["text"])
        n_words = [len(x) - 2 for x in ids]
        all_words = sum(n_words)
        unknown = sum(x.count(UNK_ID) for x in ids)
        full_lengths = [len(tokenizer.split(t)) for t in frame["text"]]
        stats[split] = {
            "documents": len(ids),
            "mean_words": all_words / len(ids),
            "truncated_share": sum(n > settings["max_len"] for n in full_lengths) / len(ids),
            "unknown_share": unknown / max(all_words, 1),
        }
        write_frame(token_files[split], pd.DataFrame({"ids": ids, "label": frame["label"]}))
        log.info("%s: %s", split, stats[split])
    tokenizer.save(vocab_file)
    write_json(stats_file, stats)
    log.info("vocabulary: %d types (incl. 4 special tokens)", len(tokenizer))
