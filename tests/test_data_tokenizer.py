import json
from pathlib import Path

import pandas as pd
import pytest

from lstmptq.data.sources import DataError
from lstmptq.data.tokenizer import BOS_ID, EOS_ID, SPECIALS, UNK_ID, Tokenizer
from lstmptq.grid import SPLITS
from lstmptq.io import write_frame, write_json
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
    write_json(tmp_path / "vocab.json", {"format": 0})
    with pytest.raises(ValueError, match=r"vocab\.json: not a vocabulary file of this code \(format 0"):
        Tokenizer.load(tmp_path / "vocab.json")


SETTINGS = {"min_freq": 1, "max_size": 100, "max_len": 80}


def tokenized(tmp_path, texts: dict[str, list[str]], settings=SETTINGS) -> Path:
    """Run the tokenize step of dataset 'toy' on splits of `texts` (labels 0, 1, 0, ...); its tokens/ folder."""
    data, tokens = tmp_path / "data", tmp_path / "tokens"
    data.mkdir(exist_ok=True)
    for split, documents in texts.items():
        labels = [i % 2 for i in range(len(documents))]
        write_frame(data / f"{split}.parquet", pd.DataFrame({"text": documents, "label": labels}))
    tokenize(
        {s: data / f"{s}.parquet" for s in SPLITS},
        {s: tokens / f"{s}.parquet" for s in SPLITS},
        tokens / "vocab.json",
        tokens / "stats.json",
        settings,
        dataset="toy",
    )
    return tokens


def test_tokenize_step_builds_vocabulary_from_train_only(tmp_path):
    texts = {"train": "alpha alpha beta", "valid": "gamma alpha gamma", "test": "delta alpha"}
    tokens = tokenized(tmp_path, {split: [text, text] for split, text in texts.items()})
    vocab = Tokenizer.load(tokens / "vocab.json")
    assert set(vocab.itos) - set(SPECIALS) == {"alpha", "beta"}
    test = pd.read_parquet(tokens / "test.parquet")
    assert list(test["ids"].iloc[0]) == [BOS_ID, UNK_ID, vocab.stoi["alpha"], EOS_ID]


def test_documents_without_words_are_kept_counted_and_warned_about(tmp_path, caplog):
    texts = {
        "train": ["alpha beta", "!!! ???", "beta alpha"],
        "valid": ["alpha", "beta"],
        "test": ["beta alpha", " -- ", "alpha"],
    }
    tokens = tokenized(tmp_path, texts)
    stats = json.loads((tokens / "stats.json").read_text())
    assert [stats[s]["documents_without_words"] for s in SPLITS] == [1, 0, 1]
    test = pd.read_parquet(tokens / "test.parquet")
    assert len(test) == 3 and list(test["ids"].iloc[1]) == [BOS_ID, EOS_ID]  # row for row the data step's test split
    assert "dataset 'toy', test split: 1 of 3 document(s) have no word token" in caplog.text
    assert "dataset 'toy', train split: 1 of 3 document(s) have no word token" in caplog.text


def assert_refused_and_nothing_written(tmp_path, texts, settings, *messages):
    with pytest.raises(DataError) as refused:
        tokenized(tmp_path, texts, settings)
    for message in messages:
        assert message in str(refused.value), str(refused.value)
    assert not (tmp_path / "tokens").exists()


def test_a_vocabulary_of_special_tokens_only_is_refused_before_training(tmp_path):
    punctuation = {"train": ["!!!", "?? ...", "-- !"], "valid": ["alpha"], "test": ["beta"]}
    assert_refused_and_nothing_written(
        tmp_path,
        punctuation,
        SETTINGS,
        "dataset 'toy', train split: the vocabulary has no word beyond the 4 special tokens (0 distinct word(s) in "
        "3 documents, none seen `tokenizer.min_freq` = 1 times; 3 document(s) have no word at all)",
        "check that `sources.toy.text_columns` name the columns",
        "or lower `tokenizer.min_freq` (now 1)",
    )
    hapaxes = {"train": ["id1", "id2", "id3"], "valid": ["id4"], "test": ["id5"]}  # one id per document
    assert_refused_and_nothing_written(
        tmp_path, hapaxes, {**SETTINGS, "min_freq": 2}, "(3 distinct word(s) in 3 documents, none seen"
    )


def test_a_train_split_mostly_unknown_to_its_vocabulary_is_refused(tmp_path):
    texts = {"train": ["common rare1 rare2", "common rare3 rare4"], "valid": ["common"], "test": ["common"]}
    assert_refused_and_nothing_written(
        tmp_path,
        texts,
        {**SETTINGS, "min_freq": 2},
        "dataset 'toy', train split: 67% of the training words are <unk> (more than 50%",
        "or raise `tokenizer.max_size`",
    )


@pytest.mark.parametrize(
    ("test", "message"),
    [
        (["gamma delta", "epsilon zeta"], "dataset 'toy', test split: 100% of its words are not in the vocabulary"),
        (["...", "!"], "dataset 'toy', test split: none of its 2 documents has a word token"),
    ],
)
def test_a_test_split_the_vocabulary_does_not_describe_is_refused(tmp_path, test, message):
    texts = {"train": ["alpha beta", "beta alpha"], "valid": ["alpha"], "test": test}
    assert_refused_and_nothing_written(tmp_path, texts, SETTINGS, message, "`sources.toy.text_columns`")


def test_a_test_split_half_unknown_is_accepted(tmp_path):
    """The tiny workflow's test split is 55% unknown at min_freq 2: within the limit."""
    texts = {"train": ["alpha beta", "beta alpha"], "valid": ["alpha"], "test": ["alpha gamma", "beta delta"]}
    stats = json.loads((tokenized(tmp_path, texts) / "stats.json").read_text())
    assert stats["test"]["unknown_share"] == 0.5
