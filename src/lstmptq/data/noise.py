"""Character-substitution noise, nested across noise levels (noise model `char_substitution`).

Each letter or digit of a document is replaced, with probability eps, by another character of
an alphabet. Per document and seed we draw ONE uniform number and ONE replacement per
character, and corrupt where the number is below eps: the characters corrupted at a lower eps
are then a subset of those at a higher eps (with the same replacements), so accuracy curves over
eps are not jagged from resampling. Whitespace and punctuation are left alone, so word
boundaries and the number of word tokens stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class Corrupted:
    text: str
    corrupted: int  # characters replaced
    eligible: int  # letters and digits (characters that may be replaced)


def check(settings: dict) -> None:
    """The noise-model interface (registry.NOISE_MODELS): refuse bad settings before any job."""
    unknown = set(settings) - {"alphabet"}
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; char_substitution takes `alphabet`")
    check_alphabet(settings.get("alphabet", DEFAULT_ALPHABET))


def check_alphabet(alphabet: str) -> None:
    if len(set(alphabet)) < 2 or len(set(alphabet)) != len(alphabet):
        raise ValueError(f"noise alphabet {alphabet!r} needs at least two distinct characters and no repeats")
    if not all(c.isalnum() for c in alphabet):
        raise ValueError(
            f"noise alphabet {alphabet!r} must hold letters and digits only (others would change word boundaries)"
        )


def corrupt(text: str, eps: float, seed: int, document: int, alphabet: str = DEFAULT_ALPHABET) -> Corrupted:
    """`text` with each letter/digit replaced with probability `eps` (deterministic per
    (seed, document); nested in eps). A replacement never equals the lowercased original."""
    import numpy as np  # here, so the Snakefile's config check can import this module cheaply

    if not 0 <= eps <= 1:
        raise ValueError(f"noise level eps={eps} is outside [0, 1]")
    rng = np.random.default_rng([seed, document])
    n = len(text)
    draws = rng.random(n)
    # an offset in 1..len-1 from the original's alphabet position: never the original itself
    offsets = rng.integers(1, len(alphabet), size=n)
    chars = list(text)
    corrupted = eligible = 0
    for i, ch in enumerate(chars):
        if not ch.isalnum():
            continue
        eligible += 1
        if draws[i] < eps:
            position = alphabet.find(ch.lower())
            # characters outside the alphabet (e.g. accented letters) take any alphabet character
            chars[i] = alphabet[(position + offsets[i]) % len(alphabet)] if position >= 0 else alphabet[offsets[i] - 1]
            corrupted += 1
    return Corrupted("".join(chars), corrupted, eligible)
