import pandas as pd
import pytest

from lstmptq.data.tokenizer import BOS_ID, EOS_ID, SPECIALS, UNK_ID, Tokenizer
from lstmptq.grid import SPLITS
from lstmptq.stages.tokenize import tokenize


def test_words_are_lowercased_and_truncated():
    tok = Tokenizer(list(SPECIALS), max_len=3)
    assert tok.split("The BBC's news, TODAY!") == ["the", "bbc's", "news", "today"]
    assert tok.words("The BBC's news, TODAY!") == ["the", "bbc's", "news"]


def test_vocabulary_respects_min_freq_max_size_and_is_deterministic():
    texts = ["b a a", "c b a", "d"]
    tok = Tokenizer.build(texts, min_freq=2, max_size=10, max_len=80)
    assert tok.itos == [*SPECIALS, "a", "b"]  # by count, then alphabetically
    assert Tokenizer.build(texts, min_freq=1, max_size=2, max_len=80).itos == [*SPECIALS, "a", "b"]
    assert Tokenizer.build(["y x", "x y"], 1, 10, 80).itos == [*SPECIALS, "x", "y"]  # tie -> alphabetical


def test_vocabulary_counts_only_the_truncated_words():
    tok = Tokenizer.build(["a a late late late"], min_freq=1, max_size=10, max_len=2)
    assert "late" not in tok.stoi


def test_encode_adds_bos_eos_and_maps_unknowns():
    tok = Tokenizer([*SPECIALS, "hello"], max_len=2)
    assert tok.encode("Hello stranger and more") == [BOS_ID, 4, UNK_ID, EOS_ID]
    assert tok.encode("") == [BOS_ID, EOS_ID]


def test_saved_tokenizer_encodes_identically(tmp_path):
    tok = Tokenizer.build(["one two two three"], 1, 10, 3)
    tok.save(tmp_path / "vocab.json")
    again = Tokenizer.load(tmp_path / "vocab.json")
    assert again.itos == tok.itos and again.max_len == 3
    assert again.encode("Two THREE four one") == tok.encode("Two THREE four one")


def test_corrupt_vocabulary_file_is_named(tmp_path):
    (tmp_path / "vocab.json").write_text("{not json")
    with pytest.raises(
        ValueError, match=r"vocab\.json: truncated or not JSON .*line 1 column 2.*snakemake .*vocab\.json --force"
    ):
        Tokenizer.load(tmp_path / "vocab.json")
    (tmp_path / "vocab.json").write_text('{"format": 0}')
    with pytest.raises(ValueError, match=r"vocab\.json: not a vocabulary file of this code \(format 0"):
        Tokenizer.load(tmp_path / "vocab.json")


def test_tokenize_step_builds_vocabulary_from_train_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for split, text in (("train", "alpha alpha beta"), ("valid", "gamma gamma gamma"), ("test", "delta alpha")):
        pd.DataFrame({"text": [text, text], "label": [0, 1]}).to_parquet(data / f"{split}.parquet")
    tokens = tmp_path / "tokens"
    split_files = {s: data / f"{s}.parquet" for s in SPLITS}
    token_files = {s: tokens / f"{s}.parquet" for s in SPLITS}
    tokenize(
        split_files,
        token_files,
        tokens / "vocab.json",
        tokens / "stats.json",
        {"min_freq": 1, "max_size": 100, "max_len": 80},
    )
    vocab = Tokenizer.load(tmp_path / "tokens" / "vocab.json")
    assert set(vocab.itos) - set(SPECIALS) == {"alpha", "beta"}
    test = pd.read_parquet(tmp_path / "tokens" / "test.parquet")
    assert list(test["ids"].iloc[0]) == [BOS_ID, UNK_ID, vocab.stoi["alpha"], EOS_ID]
