"""A toy noise model for tests/test_extensions_end_to_end.py: with probability eps, a letter trades places with
the next one in its word (word boundaries stay). Registered from a config (`extensions.noise_models`)."""

import numpy as np

from lstmptq.data.noise import Corrupted


def check(settings):
    if settings:
        raise ValueError(f"swap takes no settings, got {sorted(settings)}")


def corrupt(text, eps, seed, document):
    rng = np.random.default_rng([seed, document, 7])
    chars = list(text)
    draws = rng.random(len(chars))
    swapped = eligible = 0
    i = 0
    while i < len(chars) - 1:
        if chars[i].isalnum() and chars[i + 1].isalnum():
            eligible += 1
            if draws[i] < eps:
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
                swapped += 2
                i += 1
        i += 1
    return Corrupted("".join(chars), swapped, max(eligible, 1))
