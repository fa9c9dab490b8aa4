import hashlib
import json
import logging
import os
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_CONFIG, snakemake
from snakemake.utils import update_config, validate

from lstmptq.config import ConfigError, check_recorded_duplicates
from lstmptq.data.sources import DataError, decode_file, hub_frames, load_source, read_embedded_bbc, split_stratified
from lstmptq.grid import SPLITS
from lstmptq.stages.data import prepare_data

# as config.yaml: the corpus repeats articles, 36 of the 445 test documents are also in train or valid
EMBEDDED = {
    "kind": "embedded",
    "valid_fraction": 0.1,
    "test_fraction": 0.2,
    "split_seed": 0,
    "max_duplicate_share": 0.09,
}


@pytest.fixture(scope="module")
def bbc():
    return read_embedded_bbc()


def test_embedded_corpus_is_the_full_bbc_news(bbc):
    assert len(bbc) == 2225
    assert bbc["label"].value_counts().to_dict() == {
        "sports": 511,
        "business": 510,
        "politics": 417,
        "tech": 401,
        "entertainment": 386,
    }
    assert not bbc["text"].str.strip().eq("").any()


def test_split_is_stratified_disjoint_and_deterministic(bbc):
    first = split_stratified(bbc, 0.1, 0.2, seed=0)
    again = split_stratified(bbc, 0.1, 0.2, seed=0)
    other = split_stratified(bbc, 0.1, 0.2, seed=1)
    for split in ("train", "valid", "test"):
        assert first[split]["file"].tolist() == again[split]["file"].tolist()
    assert first["test"]["file"].tolist() != other["test"]["file"].tolist()
    files = [set(first[s]["file"]) for s in ("train", "valid", "test")]
    assert sum(map(len, files)) == len(bbc) and len(set.union(*files)) == len(bbc)
    assert len(first["test"]) == pytest.approx(0.2 * len(bbc), abs=1)
    whole = bbc["label"].value_counts(normalize=True)
    for split in ("train", "valid", "test"):
        share = first[split]["label"].value_counts(normalize=True)
        assert np.allclose(share.reindex(whole.index), whole, atol=0.01), split


def test_load_source_encodes_labels_from_train(bbc):
    splits = load_source("bbc_news", EMBEDDED)
    assert splits.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    for frame in splits.frames.values():
        assert list(frame.columns) == ["text", "label"]
        assert frame["label"].between(0, 4).all()


def test_subsample_keeps_a_per_class_fraction():
    splits = load_source("bbc", {**EMBEDDED, "subsample": {"test": 0.15}})
    full = load_source("bbc", EMBEDDED)
    counts = splits.frames["test"]["label"].value_counts().sort_index()
    expected = (full.frames["test"]["label"].value_counts().sort_index() * 0.15).round()
    assert (counts - expected).abs().max() <= 1
    assert len(splits.frames["train"]) == len(full.frames["train"])


# ---- local files ------------------------------------------------------------------------


def _frame(n_per_class=6, labels=("a", "b"), first=0):
    """Documents numbered from `first`: frames with different `first` share no document."""
    rows = [
        {"title": f"{lab} title {i}", "body": f"{lab} words here {i}", "cat": lab}
        for lab in labels
        for i in range(first, first + n_per_class)
    ]
    return pd.DataFrame(rows)


TEST = 100  # `first` of test frames, VALID of valid frames: no duplicates between splits
VALID = 200


def _files_spec(tmp_path, train, test, suffix=".csv", valid=None, **extra):
    paths = {}
    for split, frame in (("train", train), ("test", test), ("valid", valid)):
        if frame is None:
            continue
        path = tmp_path / f"{split}{suffix}"
        {".csv": lambda p: frame.to_csv(p, index=False),
         ".tsv": lambda p: frame.to_csv(p, sep="\t", index=False),
         ".parquet": lambda p: frame.to_parquet(p),
         ".jsonl": lambda p: frame.to_json(p, orient="records", lines=True)}[suffix](path)  # fmt: skip
        paths[split] = str(path)
    return {
        "kind": "files",
        "text_columns": ["title", "body"],
        "label_column": "cat",
        "valid_fraction": 0.25,
        "split_seed": 0,
        **paths,
        **extra,
    }


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_files_source_reads_every_format(tmp_path, suffix):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), suffix)
    splits = load_source("local", spec)
    assert splits.label_names == ["a", "b"]
    assert len(splits.frames["valid"]) == 3 and len(splits.frames["train"]) == 9  # valid carved from train
    assert splits.frames["test"]["text"].iloc[0] == "a title 100\na words here 100"


def test_files_source_uses_a_given_valid_file(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), valid=_frame(1, first=VALID))
    splits = load_source("local", spec)
    assert len(splits.frames["train"]) == 12 and len(splits.frames["valid"]) == 2


def test_missing_column_names_file_and_column(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2))
    spec["label_column"] = "category"
    with pytest.raises(DataError, match=r"train\.csv.*missing column\(s\) \['category'\]"):
        load_source("local", spec)


def test_missing_label_values_name_file_and_column(tmp_path):
    test = _frame(2, first=TEST)
    test.loc[1, "cat"] = None
    with pytest.raises(DataError, match=r"test\.csv: 1 row\(s\) have no value in label column 'cat'"):
        load_source("local", _files_spec(tmp_path, _frame(), test))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_missing_text_in_a_single_text_column_counts_as_empty(tmp_path, suffix):
    train = _frame()
    train.loc[0, "body"] = None
    splits = load_source("local", _files_spec(tmp_path, train, _frame(2, first=TEST), suffix, text_columns=["body"]))
    assert splits.dropped_empty == {"train": 1, "valid": 0, "test": 0}
    texts = pd.concat([splits.frames[s]["text"] for s in ("train", "valid")])
    assert len(texts) == 11 and not texts.str.lower().eq("nan").any()


def test_a_very_long_document_is_loaded_and_kept(tmp_path):
    train = _frame()
    train.loc[0, "body"] = "word " * 400_000  # 2 million characters in one CSV field
    splits = load_source(
        "local", _files_spec(tmp_path, train, _frame(2, first=TEST), text_columns=["body"], valid_fraction=0.5)
    )
    lengths = pd.concat([splits.frames[s]["text"] for s in ("train", "valid")]).str.len()
    assert lengths.max() == len(("word " * 400_000).strip())  # the tokenizer truncates it later, to max_len words


# ---- encodings of local files ----------------------------------------------------------


def _stray_byte_csv(tmp_path):
    """Files source whose UTF-8 test CSV (non-ASCII text, larger than pandas' read chunks) has one
    stray byte near its end. Returns the spec, the 1-based line and the byte offset of that byte."""
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST))
    rows = "".join(f"b caf\u00e9 {i},b d\u00e9j\u00e0 vu {i},b\n" for i in range(1000, 21000))
    head = Path(spec["test"]).read_bytes() + rows.encode("utf-8")
    Path(spec["test"]).write_bytes(head + b"b stray \xff byte,b body,b\n")
    return spec, head.count(b"\n") + 1, len(head) + len(b"b stray ")


def test_stray_byte_names_file_line_offset_and_both_remedies(tmp_path):
    spec, line, offset = _stray_byte_csv(tmp_path)
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    message = str(err.value)
    assert f"test.csv: not valid utf-8 at line {line}, byte offset {offset} of the file" in message
    assert "bad byte(s) b'\\xff'" in message and "b stray \\xff byte" in message  # the bytes around it, as repr
    assert "set `sources.local.encoding` to it (e.g. cp1252)" in message
    assert "set `sources.local.encoding_errors: replace`" in message
    assert "iconv" not in message


def test_encoding_errors_replace_counts_and_records_bad_bytes(tmp_path, caplog):
    spec, _, _ = _stray_byte_csv(tmp_path)
    with caplog.at_level(logging.WARNING, logger="lstmptq.data.sources"):
        splits = load_source("local", {**spec, "encoding_errors": "replace"})
    assert splits.decoding["test"] == {
        "file": spec["test"],
        "encoding": "utf-8",
        "errors": "replace",
        "replaced_bytes": 1,
    }
    assert splits.decoding["train"]["replaced_bytes"] == 0
    texts = splits.frames["test"]["text"].tolist()
    assert "b stray \ufffd byte\nb body" in texts and "b caf\u00e9 1000\nb d\u00e9j\u00e0 vu 1000" in texts
    assert "1 byte(s) that are not valid utf-8 replaced by U+FFFD" in caplog.text


def test_replace_gives_one_replacement_per_bad_sequence_and_counts_bytes(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"ok \xe2\x82 euro cut short; \xff\xfe two bad bytes; caf\xc3\xa9")
    assert decode_file(path, "local", errors="replace") == (
        "ok \ufffd euro cut short; \ufffd\ufffd two bad bytes; caf\u00e9",
        4,
    )


def test_another_encoding_is_read_when_named(tmp_path):
    train = _frame()
    train.loc[0, "title"] = "caf\u00e9 \u20ac5"  # cp1252 has the euro sign at 0x80, which UTF-8 refuses
    spec = _files_spec(tmp_path, train, _frame(2, first=TEST))
    for split in ("train", "test"):
        Path(spec[split]).write_bytes(Path(spec[split]).read_text(encoding="utf-8").encode("cp1252"))
    with pytest.raises(DataError, match=r"train\.csv: not valid utf-8 at line 2, byte offset 18 "):
        load_source("local", spec)
    splits = load_source("local", {**spec, "encoding": "cp1252"})
    texts = pd.concat([splits.frames[s]["text"] for s in ("train", "valid")])
    assert "caf\u00e9 \u20ac5\na words here 0" in texts.tolist()
    assert splits.decoding["train"]["encoding"] == "cp1252"


def test_unknown_encoding_names_the_key(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), encoding="utf-9")
    with pytest.raises(DataError, match=r"unknown text encoding 'utf-9' in `sources\.local\.encoding`"):
        load_source("local", spec)


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST))
    Path(spec["train"]).write_bytes(b"\xef\xbb\xbf" + Path(spec["train"]).read_bytes())
    assert len(load_source("local", spec).frames["train"]) == 9


def test_parquet_ignores_the_encoding_keys(tmp_path):
    train = _frame()
    train.loc[0, "title"] = "caf\u00e9"
    spec = _files_spec(tmp_path, train, _frame(2, first=TEST), ".parquet", encoding="ascii")
    assert load_source("local", spec).decoding == {}


# ---- documents shared between splits ----------------------------------------------------


def test_test_split_copied_from_train_is_refused_with_both_remedies(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame())
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    message = str(err.value)
    assert (
        "dataset 'local': 12 of 12 test documents (100.0%) also occur in train or valid (9 in train, 3 in valid)"
        in message
    )
    assert "set `sources.local.max_duplicate_share: 1.0`" in message
    assert "set `sources.local.drop_duplicates: true`" in message
    with pytest.raises(DataError, match="the test split is empty"):  # dropping them all leaves nothing to test
        load_source("local", {**spec, "drop_duplicates": True})


def test_duplicates_are_found_after_the_tokenizers_normalisation(tmp_path, caplog):
    test = pd.concat([_frame(2, first=TEST), _frame(1)])  # 1 of 3 per class is in train, in another form
    test["title"] = test["title"].str.upper() + "!"
    test["body"] = test["body"].str.replace(" ", "  -- ")
    spec = _files_spec(tmp_path, _frame(), test, valid=_frame(1, first=VALID), max_duplicate_share=0.34)
    with caplog.at_level(logging.WARNING, logger="lstmptq.data.sources"):
        splits = load_source("local", spec)
    assert splits.duplicates["counts"] == {
        "valid_in_train": 0,
        "test_in_train": 2,
        "test_in_valid": 0,
        "test_in_train_or_valid": 2,
    }
    assert splits.duplicates["shares"]["test_in_train_or_valid"] == pytest.approx(2 / 6)
    assert len(splits.frames["test"]) == 6  # accepted, kept
    assert "2 of 6 test documents (33.3%) also occur in train or valid" in caplog.text
    with pytest.raises(DataError, match=r"more than max_duplicate_share = 0\.3\b.*max_duplicate_share: 0\.34`"):
        load_source("local", {**spec, "max_duplicate_share": 0.3})


def test_drop_duplicates_drops_and_records_them_in_labels_json(tmp_path):
    valid = pd.concat([_frame(2, first=VALID), _frame(1)])  # a0, b0 are in train
    test = pd.concat([_frame(2, first=TEST), _frame(1, first=1), _frame(1, first=VALID)])  # 2 in train, 2 in valid
    spec = _files_spec(tmp_path, _frame(), test, valid=valid, drop_duplicates=True)
    data = tmp_path / "data"
    prepare_data("local", spec, {s: data / f"{s}.parquet" for s in SPLITS}, data / "labels.json")
    labels = json.loads((tmp_path / "data" / "labels.json").read_text())
    duplicates = labels["duplicates"]
    assert duplicates["counts"] == {
        "valid_in_train": 2,
        "test_in_train": 2,
        "test_in_valid": 2,
        "test_in_train_or_valid": 4,
    }
    assert duplicates["dropped"] == {"valid": 2, "test": 4}
    assert sum(labels["counts"]["valid"].values()) == 4 and sum(labels["counts"]["test"].values()) == 4
    test_texts = pd.read_parquet(tmp_path / "data" / "test.parquet")["text"]
    assert not test_texts.str.contains(r" [01]$| 200$").any()
    assert labels["decoding"]["test"] == {
        "file": spec["test"],
        "encoding": "utf-8",
        "errors": "strict",
        "replaced_bytes": 0,
    }


def test_hub_test_split_copied_from_train_is_refused(monkeypatch):
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None: _hub_dict(test_first=0))
    with pytest.raises(DataError, match=r"dataset 'dbp': 30 of 30 test documents .*drop_duplicates: true"):
        load_source("dbp", DBPEDIA_LIKE)


def test_embedded_bbc_duplicates_as_measured_and_accepted_by_the_configs():
    bbc_news = yaml.safe_load((REPO / "config.yaml").read_text())["sources"]["bbc_news"]
    counts = load_source("bbc_news", bbc_news).duplicates["counts"]
    assert counts == {
        "valid_in_train": 14,
        "test_in_train": 32,
        "test_in_valid": 4,
        "test_in_train_or_valid": 36,
    }  # of 223 / 445
    with pytest.raises(DataError, match=r"36 of 445 test documents \(8\.1%\).*max_duplicate_share: 0\.09`"):
        load_source("bbc_news", {**bbc_news, "max_duplicate_share": 0.08})
    tiny = yaml.safe_load(TINY_CONFIG.read_text())["sources"]["bbc_tiny"]
    assert load_source("bbc_tiny", tiny).duplicates["counts"]["test_in_train_or_valid"] == 0


def test_empty_texts_are_dropped_and_counted(tmp_path):
    train = _frame()
    train.loc[0, ["title", "body"]] = ["   ", ""]
    splits = load_source("local", _files_spec(tmp_path, train, _frame(2, first=TEST)))
    assert splits.dropped_empty == {"train": 1, "valid": 0, "test": 0}
    assert sum(len(splits.frames[s]) for s in ("train", "valid")) == 11


def test_labels_unseen_in_train_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"test split has label\(s\) \['c'\] that never occur in train"):
        load_source("local", _files_spec(tmp_path, _frame(), _frame(2, labels=("a", "c"), first=TEST)))


def test_fewer_than_two_classes_is_refused(tmp_path):
    with pytest.raises(DataError, match="at least two"):
        load_source("local", _files_spec(tmp_path, _frame(labels=("a",)), _frame(2, labels=("a",), first=TEST)))


def test_missing_file_is_named(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2))
    spec["test"] = str(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_source("local", spec)


# ---- Hugging Face hub (mapping tested on a locally built DatasetDict) --------------------


def _hub_dict(test_first=100):
    features = datasets.Features(
        {
            "title": datasets.Value("string"),
            "content": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["zeta", "alpha", "mid"]),
        }
    )

    def make(n, first):
        rows = {"title": [], "content": [], "label": []}
        for label in range(3):
            for i in range(first, first + n):
                rows["title"].append(f"t{label}{i}")
                rows["content"].append(f"content {label} {i}")
                rows["label"].append(label)
        return datasets.Dataset.from_dict(rows, features=features)

    return datasets.DatasetDict({"train": make(20, 0), "test": make(10, test_first)})


DBPEDIA_LIKE = {"kind": "hub", "path": "fancyzhx/dbpedia_14", "name": "dbpedia_14",
                "text_columns": ["title", "content"], "label_column": "label",
                "valid_fraction": 0.1, "split_seed": 0}  # fmt: skip


def test_hub_mapping_joins_title_and_content_and_keeps_classlabel_order():
    frames, names = hub_frames("dbp", DBPEDIA_LIKE, _hub_dict())
    assert names == ["zeta", "alpha", "mid"]
    assert set(frames) == {"train", "test"} and len(frames["train"]) == 60
    assert frames["test"]["text"].iloc[0] == "t0100\ncontent 0 100"


def test_hub_source_end_to_end_with_subsampling(monkeypatch):
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, name=None: calls.append((path, name)) or _hub_dict())
    splits = load_source("dbp", {**DBPEDIA_LIKE, "subsample": {"test": 0.5}})
    assert calls == [("fancyzhx/dbpedia_14", "dbpedia_14")]
    assert splits.label_names == ["zeta", "alpha", "mid"]  # the hub's label ids are kept
    assert len(splits.frames["valid"]) == 6 and len(splits.frames["train"]) == 54  # carved from train
    assert splits.frames["test"]["label"].value_counts().to_dict() == {0: 5, 1: 5, 2: 5}


def test_hub_offline_fails_at_once_naming_the_dataset():
    # a real load_dataset call; conftest sets HF_HUB_OFFLINE=1 before datasets is imported
    spec = {**DBPEDIA_LIKE, "path": "fancyzhx/ag_news", "name": None, "text_columns": ["text"]}
    with pytest.raises(DataError, match=r"dataset 'ag_news': could not load 'fancyzhx/ag_news'.*kind: files"):
        load_source("ag_news", spec)


def test_prepare_data_writes_tables_and_label_names(tmp_path):
    prepare_data(
        "bbc",
        {**EMBEDDED, "subsample": {"train": 0.1}},
        {s: tmp_path / f"{s}.parquet" for s in SPLITS},
        tmp_path / "labels.json",
    )
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels["label_names"][0] == "business"
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert sum(labels["counts"]["train"].values()) == len(train)
    assert not list(tmp_path.glob("*.tmp"))


# ---- bad local files: each message names the file and the fix ---------------------------


@pytest.mark.parametrize("text_columns", [["title", "body"], ["body"]])
def test_a_header_only_file_names_the_file_whatever_its_text_columns(tmp_path, text_columns):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), text_columns=text_columns)
    Path(spec["test"]).write_text("title,body,cat\n")
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    assert str(err.value) == (
        f"dataset 'local': the test split is empty: {spec['test']} holds no documents, only a header or nothing; "
        "add documents to it or point `sources.local.test` at another file"
    )


def test_a_text_column_that_copies_the_label_is_refused_naming_file_and_column(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), text_columns=["title", "cat"])
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    assert f"{spec['train']}: text column 'cat' equals the label column 'cat' in 12 of 12 rows" in str(err.value)
    assert "Remove 'cat' from `sources.local.text_columns`" in str(err.value)
    train = _frame()
    train["category"] = train["cat"].str.upper()  # the label under another name, in another case ...
    train.loc[:3, "category"] = "edited"  # ... with a few rows changed: still 8 of 12
    with pytest.raises(DataError, match=r"train\.csv: text column 'category' equals .* in 8 of 12 rows \(67%\)"):
        load_source("local", _files_spec(tmp_path, train, _frame(2, first=TEST).assign(category="x"),
                                         text_columns=["title", "category"]))  # fmt: skip
    train.loc[:9, "title"] = "edited"
    train.loc[10:, "title"] = train.loc[10:, "cat"]  # a title that is its class name, now and then, is text
    splits = load_source("local", _files_spec(tmp_path, train, _frame(2, first=TEST)))
    assert len(splits.frames["train"]) == 9


def test_a_class_with_one_training_document_names_the_file_and_the_fixes(tmp_path):
    train = pd.concat([_frame(), _frame(1, labels=("c",))])
    test = _frame(2, first=TEST)
    spec = _files_spec(tmp_path, train, test)
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    assert str(err.value) == (
        f"dataset 'local': {spec['train']}: 1 class(es) have a single training document (['c']), and the stratified "
        "valid split carved from train needs at least two per class. Add documents of that class, give a valid "
        "file (`sources.local.valid`), or drop its rows."
    )
    with_valid = _files_spec(tmp_path, train, test, valid=_frame(1, first=VALID))
    assert load_source("local", with_valid).label_names == ["a", "b", "c"]  # nothing to carve: accepted


@pytest.mark.parametrize("suffix, written_with, looks", [(".csv", "\t", "tab"), (".tsv", ",", "comma")])
def test_a_file_separated_other_than_its_extension_says_is_named(tmp_path, suffix, written_with, looks):
    train = _frame()
    train["body"] = train["body"] + ", with commas, here"  # read as CSV: "Expected 2 fields in line ..."
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), suffix)
    train.to_csv(spec["train"], sep=written_with, index=False)
    other = {".csv": ".tsv", ".tsv": ".csv"}[suffix]
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    assert str(err.value).startswith(f"{spec['train']}: this file looks {looks}-separated (its first line has 2 ")
    assert f"the format is chosen by the file extension. Rename it {other}" in str(err.value)


def test_a_broken_json_lines_line_is_named_by_its_number(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), ".jsonl")
    lines = Path(spec["train"]).read_text().splitlines()
    lines[4] = lines[4][:-5]  # line 5 cut short
    Path(spec["train"]).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train\.jsonl: line 5 is not valid JSON \(.*column \d+\); a JSON Lines"):
        load_source("local", spec)


def test_a_json_file_holding_one_array_of_objects_is_read(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), ".jsonl")
    array = tmp_path / "train.json"
    _frame().to_json(array, orient="records", indent=1)
    splits = load_source("local", {**spec, "train": str(array)})
    assert len(splits.frames["train"]) + len(splits.frames["valid"]) == 12
    assert "a title 0\na words here 0" in pd.concat([splits.frames["train"], splits.frames["valid"]])["text"].tolist()
    array.write_text('[{"title": "t", "body": "b", "cat": "a"}, ["not", "an", "object"]]')
    with pytest.raises(DataError, match=r"train\.json: item 2 of its JSON array is a JSON list, not an object"):
        load_source("local", {**spec, "train": str(array)})


def test_a_list_valued_parquet_text_column_is_joined_with_spaces(tmp_path):
    train = _frame()
    train["body"] = [np.array([f"word{i}" for i in range(1500)] + [f"doc{n}"]) for n in range(len(train))]
    spec = _files_spec(tmp_path, train, _frame(2, first=TEST), ".parquet")
    texts = pd.concat([load_source("local", spec).frames[s]["text"] for s in ("train", "valid")])
    assert texts.str.endswith(" word1498 word1499 doc0").sum() == 1  # every item, none cut to "..."
    assert not texts.str.contains(r"\.\.\.|\[|'").any()


def test_a_label_column_of_text_says_it_looks_like_text(tmp_path):
    train = pd.DataFrame({"title": [f"t{i}" for i in range(180)], "body": [f"long body {i} " * 20 for i in range(180)]})
    test = pd.DataFrame({"title": ["x"] * 4, "body": [f"test body {i}" for i in range(4)]})
    spec = _files_spec(tmp_path, train, test, text_columns=["title"], label_column="body")
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    message = str(err.value)
    assert message == (
        f"dataset 'local': {spec['train']}: label column 'body' has 180 distinct values in 180 rows, nearly one per "
        "document: it looks like text, not a label. Set `sources.local.label_column` to the column that holds "
        "each document's class."
    )


def test_a_valid_file_that_repeats_train_is_refused(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST), valid=_frame(4, first=VALID))
    spec["valid"] = spec["train"]
    with pytest.raises(DataError) as err:
        load_source("local", spec)
    assert str(err.value).startswith(
        f"dataset 'local': {spec['train']}: 12 of 12 valid documents (100.0%) also occur in train, so early "
        "stopping would pick the epoch that memorises train best."
    )
    assert "set `sources.local.valid: null` to carve one from train" in str(err.value)
    valid = tmp_path / "valid.csv"
    pd.concat([_frame(2, first=VALID), _frame(1)]).to_csv(valid, index=False)  # 2 of 6 in train: warned, accepted
    assert len(load_source("local", {**spec, "valid": str(valid)}).frames["valid"]) == 6


# ---- fingerprints and a threshold changed after the data step ----------------------------


def _prepared(tmp_path, spec):
    """Run the data step into tmp_path/data; return the path of its labels.json."""
    data = tmp_path / "data"
    prepare_data("local", spec, {s: data / f"{s}.parquet" for s in SPLITS}, data / "labels.json")
    return data / "labels.json"


def test_labels_json_records_each_input_files_fingerprint(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2, first=TEST))
    labels = json.loads(_prepared(tmp_path, spec).read_text())
    content = {split: Path(spec[split]).read_bytes() for split in ("train", "test")}
    assert labels["fingerprints"] == {
        split: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for split, data in content.items()
    }


def test_a_lowered_max_duplicate_share_is_refused_before_any_job_with_the_data_steps_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the fingerprint cache goes to ./.snakemake
    test = pd.concat([_frame(2, first=TEST), _frame(1)])  # 2 of 6 test documents are in train
    spec = _files_spec(tmp_path, _frame(), test, max_duplicate_share=0.5)
    labels = _prepared(tmp_path, spec)
    check_recorded_duplicates("local", spec, labels)  # within the threshold it was built with
    lowered = {**spec, "max_duplicate_share": 0.3}
    with pytest.raises(DataError) as data_step:
        load_source("local", lowered)
    with pytest.raises(ConfigError) as config_check:
        check_recorded_duplicates("local", lowered, labels)
    assert str(config_check.value) == f"{data_step.value} (as recorded in {labels})"
    assert "set `sources.local.max_duplicate_share: 0.34`" in str(config_check.value)
    # data that will be rebuilt is checked when its step runs, not from what the old data recorded
    check_recorded_duplicates("local", {**lowered, "split_seed": 1}, labels)
    check_recorded_duplicates("local", {**lowered, "drop_duplicates": True}, labels)
    _frame(7).to_csv(spec["train"], index=False)
    check_recorded_duplicates("local", lowered, labels)
    labels.write_text("{not json")
    check_recorded_duplicates("local", lowered, labels)


@pytest.mark.workflow
def test_an_input_replaced_by_older_content_reruns_the_data_step_and_a_threshold_or_touch_does_not(
    tmp_path, monkeypatch
):
    """Snakemake's times miss a file replaced by an older copy; the fingerprint params catch it."""
    monkeypatch.chdir(tmp_path)
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(
        "datasets: [local]\nsources:\n  local: {kind: files, train: train.csv, test: test.csv, "
        "text_columns: [title, body], label_column: cat, max_duplicate_share: 0.5}\n"
    )
    _frame(30).to_csv("train.csv", index=False)
    pd.concat([_frame(4, first=TEST), _frame(1)]).to_csv("test.csv", index=False)  # 2 of 10 in train
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for extra in (TINY_CONFIG, overlay):
        update_config(config, yaml.safe_load(extra.read_text()))
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    data = Path("results/local/data")
    prepare_data("local", config["sources"]["local"], {s: data / f"{s}.parquet" for s in SPLITS}, data / "labels.json")
    target = str(data / "labels.json")

    def dry_run(*configs):
        return snakemake(tmp_path, "-n", target, configfiles=(TINY_CONFIG, overlay, *configs))

    recorded = snakemake(tmp_path, "--touch", "--force", "--cores", "1", target, configfiles=(TINY_CONFIG, overlay))
    assert recorded.returncode == 0, recorded.stderr[-3000:]  # Snakemake's metadata, as after a real run
    os.utime("train.csv")  # a new time alone (a copy, another machine)
    raised = tmp_path / "raised.yaml"
    raised.write_text("sources: {local: {max_duplicate_share: 0.6}}\n")
    for result in (dry_run(), dry_run(raised)):
        assert result.returncode == 0, result.stderr[-3000:]
        assert "Nothing to be done" in result.stdout + result.stderr
    lowered = tmp_path / "lowered.yaml"
    lowered.write_text("sources: {local: {max_duplicate_share: 0.1}}\n")
    refused = dry_run(lowered)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Building DAG" not in said
    assert "dataset 'local': 2 of 10 test documents (20.0%) also occur in train or valid" in said
    assert "set `sources.local.max_duplicate_share: 0.2`" in said and f"(as recorded in {target})" in said
    _frame(25).to_csv("train.csv", index=False)
    os.utime("train.csv", (0, 0))  # older than every output
    changed = dry_run()
    assert changed.returncode == 0, changed.stderr[-3000:]
    assert "rule prepare_data:" in changed.stdout and "Params have changed since last execution" in changed.stdout
