"""Character-substitution noise: nested across eps, deterministic, word boundaries kept."""

import numpy as np
import pytest

from lstmptq.data.noise import DEFAULT_ALPHABET, check, check_alphabet, corrupt
from lstmptq.data.tokenizer import Tokenizer

TEXT = "The BBC's Q3 report: profits rose 12% in 2004, don't you know? Café prices fell.\n" * 40


def changed_positions(a: str, b: str) -> set[int]:
    return {i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y}


def test_eps_zero_changes_nothing_and_eps_one_changes_every_letter_and_digit():
    assert corrupt(TEXT, 0.0, seed=0, document=0).text == TEXT
    full = corrupt(TEXT, 1.0, seed=0, document=0)
    eligible = [i for i, c in enumerate(TEXT) if c.isalnum()]
    assert full.corrupted == full.eligible == len(eligible)
    assert changed_positions(TEXT, full.text) == set(eligible)
    for i in eligible:  # a replacement never equals the (lowercased) original
        assert full.text[i] in DEFAULT_ALPHABET and full.text[i] != TEXT[i].lower()
    # whitespace and punctuation stay, so word boundaries do too
    assert [c for c in full.text if not c.isalnum()] == [c for c in TEXT if not c.isalnum()]


def test_noise_is_nested_across_levels_with_the_same_replacements():
    levels = [corrupt(TEXT, eps, seed=3, document=7) for eps in (0.01, 0.05, 0.1, 0.3)]
    for low, high in zip(levels, levels[1:]):
        low_changed = changed_positions(TEXT, low.text)
        assert low_changed < changed_positions(TEXT, high.text)
        assert all(low.text[i] == high.text[i] for i in low_changed)


def test_noise_is_deterministic_per_seed_and_document():
    assert corrupt(TEXT, 0.1, seed=0, document=1) == corrupt(TEXT, 0.1, seed=0, document=1)
    assert corrupt(TEXT, 0.1, seed=0, document=1).text != corrupt(TEXT, 0.1, seed=0, document=2).text
    assert corrupt(TEXT, 0.1, seed=0, document=1).text != corrupt(TEXT, 0.1, seed=1, document=1).text


@pytest.mark.parametrize("eps", [0.02, 0.1])
def test_realised_rate_is_close_to_eps(eps):
    rates = [corrupt(TEXT, eps, seed=0, document=d) for d in range(20)]
    rate = sum(r.corrupted for r in rates) / sum(r.eligible for r in rates)
    n = sum(r.eligible for r in rates)
    assert abs(rate - eps) < 4 * np.sqrt(eps * (1 - eps) / n)  # four binomial standard errors


def test_noise_keeps_the_number_of_word_tokens():
    tokenizer = Tokenizer.build([TEXT], min_freq=1, max_size=1000, max_len=10_000)
    noisy = corrupt(TEXT, 0.5, seed=0, document=0).text
    assert len(tokenizer.split(noisy)) == len(tokenizer.split(TEXT))


@pytest.mark.parametrize("alphabet", ["a", "aab", "ab c", "ab-"])
def test_bad_alphabets_are_refused(alphabet):
    with pytest.raises(ValueError, match="alphabet"):
        check_alphabet(alphabet)


def test_eps_outside_the_unit_interval_is_refused():
    with pytest.raises(ValueError, match="eps=1.5"):
        corrupt(TEXT, 1.5, seed=0, document=0)


def test_settings_check_of_the_noise_model():
    # the noise-model interface (lstmptq.registry.NOISE_MODELS): the config check calls it
    check({})
    check({"alphabet": "xyz"})
    with pytest.raises(ValueError, match="alphabet"):
        check({"alphabet": "aab"})
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['alphabt'\]"):
        check({"alphabt": "xyz"})
