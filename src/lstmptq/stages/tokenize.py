"""Tokenize stage: a vocabulary from the train split only, and every split encoded with it.

Documents without a word token (punctuation, symbols: text the data step kept, but in which the
tokenizer finds no run of letters or digits) are kept, as `<bos> <eos>`, counted per split in
stats.json (`documents_without_words`) and warned about. Kept, because the token files are row
for row the data step's splits (calibration subsets index its train split, noisy test sets are
built from its test text), and because a test document dropped here would shrink the test set
that the data step's labels.json describes; a model classifies such a document from no words.

A vocabulary that cannot describe its text is refused before any model trains (`coverage_problems`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from lstmptq.data.sources import DataError
from lstmptq.data.tokenizer import SPECIALS, UNK_ID, Tokenizer
from lstmptq.io import read_frame, write_frame, write_json

log = logging.getLogger(__name__)

# Train words are unknown only below `min_freq` or beyond `max_size` (the vocabulary is built
# from them). In running text, words rarer than that are a minority of the tokens once a corpus
# has a few thousand words (Zipf): the embedded BBC train split has 4% at min_freq 2, 13% at 5,
# its 79-document tiny slice 33%. More than half means the model would learn mostly from <unk>:
# the text column holds ids or codes, or min_freq is too high for the corpus.
MAX_TRAIN_UNKNOWN_SHARE = 0.5
# Valid/test words are unknown also where train never has them: 9% and 15% on BBC at min_freq 2
# and 5, 55% on the tiny slice. Beyond 90%, early stopping and test accuracy would see almost
# nothing but <unk> and document lengths: that split holds other text than train (another
# column, language or encoding).
MAX_HELD_OUT_UNKNOWN_SHARE = 0.9


def tokenize(
    split_files: dict[str, str | Path],
    token_files: dict[str, str | Path],
    vocab_file: str | Path,
    stats_file: str | Path,
    settings: dict[str, Any],
    dataset: str,
) -> None:
    """Split tables (text, label) -> token tables (ids, label), vocab.json and stats.json; nothing
    is written for a vocabulary that cannot describe the text (DataError)."""
    frames = {s: read_frame(f) for s, f in split_files.items()}
    tokenizer = Tokenizer.build(
        frames["train"]["text"], settings["min_freq"], settings["max_size"], settings["max_len"]
    )
    stats: dict[str, Any] = {"vocab_size": len(tokenizer), "settings": settings}
    encoded = {}
    for split, frame in frames.items():
        ids = encoded[split] = tokenizer.encode_many(frame["text"])
        n_words = [len(x) - 2 for x in ids]
        all_words = sum(n_words)
        unknown = sum(x.count(UNK_ID) for x in ids)
        full_lengths = [len(tokenizer.split(t)) for t in frame["text"]]
        stats[split] = {
            "documents": len(ids),
            "mean_words": all_words / len(ids),
            "truncated_share": sum(n > settings["max_len"] for n in full_lengths) / len(ids),
            "unknown_share": unknown / max(all_words, 1),
            "documents_without_words": sum(n == 0 for n in full_lengths),
        }
        log.info("%s: %s", split, stats[split])
        if stats[split]["documents_without_words"]:
            log.warning(
                "dataset %r, %s split: %d of %d document(s) have no word token (only punctuation, symbols or "
                "whitespace; words are runs of letters and digits): kept as empty sequences, so that the splits "
                "stay those of the data step; a model classifies them from no words",
                dataset, split, stats[split]["documents_without_words"], len(ids),
            )  # fmt: skip
    problems = coverage_problems(dataset, stats, settings, lambda: _distinct_words(tokenizer, frames["train"]))
    if problems:
        raise DataError("\n".join(problems))
    for split, frame in frames.items():
        write_frame(token_files[split], pd.DataFrame({"ids": encoded[split], "label": frame["label"]}))
    tokenizer.save(vocab_file)
    write_json(stats_file, stats)
    log.info("vocabulary: %d types (incl. %d special tokens)", len(tokenizer), len(SPECIALS))


def coverage_problems(dataset: str, stats: dict[str, Any], settings: dict[str, Any], train_types) -> list[str]:
    """Why the vocabulary in `stats` (stats.json's content) cannot describe the text, per split;
    empty if it can. `train_types()` counts train's distinct words (asked only for the message)."""
    check = (
        f"check that `sources.{dataset}.text_columns` name the columns that hold the documents' text "
        f"(not ids, codes or labels), or lower `tokenizer.min_freq` (now {settings['min_freq']})"
    )
    train = stats["train"]
    if stats["vocab_size"] == len(SPECIALS):
        return [
            f"dataset {dataset!r}, train split: the vocabulary has no word beyond the {len(SPECIALS)} special tokens "
            f"({train_types()} distinct word(s) in {train['documents']} documents, none seen `tokenizer.min_freq` = "
            f"{settings['min_freq']} times; {train['documents_without_words']} document(s) have no word at all), "
            f"so every model would train to chance. Nothing was written: {check}"
        ]
    problems = []
    if train["unknown_share"] > MAX_TRAIN_UNKNOWN_SHARE:
        problems.append(
            f"dataset {dataset!r}, train split: {train['unknown_share']:.0%} of the training words are <unk> "
            f"(more than {MAX_TRAIN_UNKNOWN_SHARE:.0%}: rarer than `tokenizer.min_freq` = {settings['min_freq']} or "
            f"beyond `tokenizer.max_size` = {settings['max_size']}), so the models would learn mostly from <unk>. "
            f"Nothing was written: {check}, or raise `tokenizer.max_size`"
        )
    for split in ("valid", "test"):
        held_out = stats[split]
        if held_out["documents_without_words"] == held_out["documents"]:
            problems.append(
                f"dataset {dataset!r}, {split} split: none of its {held_out['documents']} documents has a word "
                f"token, so its scores would measure nothing. Nothing was written: check that "
                f"`sources.{dataset}.text_columns` name the columns that hold the text in the {split} file too"
            )
        elif held_out["unknown_share"] > MAX_HELD_OUT_UNKNOWN_SHARE:
            problems.append(
                f"dataset {dataset!r}, {split} split: {held_out['unknown_share']:.0%} of its words are not in the "
                f"vocabulary built from train (more than {MAX_HELD_OUT_UNKNOWN_SHARE:.0%}), so its scores would "
                f"measure almost nothing but document length. Nothing was written: check that the {split} file "
                f"holds the same kind of text as train (`sources.{dataset}.text_columns`, language, encoding), "
                f"or lower `tokenizer.min_freq` (now {settings['min_freq']})"
            )
    return problems


def _distinct_words(tokenizer: Tokenizer, train: pd.DataFrame) -> int:
    return len({word for text in train["text"] for word in tokenizer.words(text)})
