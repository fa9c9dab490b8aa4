"""Lowercase word tokenizer with a train-only vocabulary, saved as JSON for later reuse.

The saved file holds everything that defines the encoding (pattern, max_len, the id of every
token), so noisy text in a later stage is encoded exactly like clean text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from lstmptq.io import ResultFileError, atomic_path, read_json

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = range(4)
# Words (letters/digits, with inner apostrophes: "don't", "bbc's"); punctuation is dropped so
# the 80-token budget goes to words.
TOKEN_PATTERN = r"\w+(?:'\w+)*"
FORMAT_VERSION = 1


class Tokenizer:
    def __init__(self, itos: list[str], max_len: int, pattern: str = TOKEN_PATTERN):
        if list(itos[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"vocabulary must start with the special tokens {SPECIALS}")
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate tokens")
        self.max_len = max_len
        self.pattern = pattern
        self._regex = re.compile(pattern)

    def __len__(self) -> int:
        return len(self.itos)

    def split(self, text: str) -> list[str]:
        """All lowercased word tokens of `text` (no truncation)."""
        return self._regex.findall(text.lower())

    def words(self, text: str) -> list[str]:
        """Lowercased word tokens of `text`, truncated to max_len."""
        return self.split(text)[: self.max_len]

    def encode(self, text: str) -> list[int]:
        """<bos> w_1 .. w_n <eos>, unknown words as <unk>; n <= max_len."""
        unk = UNK_ID
        return [BOS_ID, *(self.stoi.get(w, unk) for w in self.words(text)), EOS_ID]

    def encode_many(self, texts: Iterable[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    @classmethod
    def build(
        cls, train_texts: Iterable[str], min_freq: int, max_size: int, max_len: int, pattern: str = TOKEN_PATTERN
    ):
        """Vocabulary from the (truncated) train texts only: words seen >= min_freq times,
        the max_size most frequent, ties broken alphabetically so the result is deterministic."""
        probe = cls(list(SPECIALS), max_len, pattern)
        counts = Counter(w for text in train_texts for w in probe.words(text))
        kept = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        return cls([*SPECIALS, *kept[:max_size]], max_len, pattern)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "pattern": self.pattern,
            "lowercase": True,
            "max_len": self.max_len,
            "itos": self.itos,
        }

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict()), encoding="utf-8")

    def sha256(self) -> str:
        """Fingerprint of the encoding (tokens in id order, pattern, max_len): models record it so
        that a model is never fed ids from another vocabulary."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        data = read_json(path)
        try:
            if data.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {data.get('format')!r}, but this code reads format {FORMAT_VERSION}")
            return cls(data["itos"], data["max_len"], data["pattern"])
        except (AttributeError, ValueError, KeyError, TypeError) as err:
            raise ResultFileError(path, f"not a vocabulary file of this code ({err})") from err
