import json

import datasets
import numpy as np
import pandas as pd
import pytest

from lstmptq.data import DataError, hub_frames, load_source, read_embedded_bbc, split_stratified
from lstmptq.steps import prepare_data

EMBEDDED = {"kind": "embedded", "valid_fraction": 0.1, "test_fraction": 0.2, "split_seed": 0}


@pytest.fixture(scope="module")
def bbc():
    return read_embedded_bbc()


def test_embedded_corpus_is_the_full_bbc_news(bbc):
    assert len(bbc) == 2225
    assert bbc["label"].value_counts().to_dict() == {"sports": 511, "business": 510, "politics": 417, "tech": 401, "entertainment": 386}
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


def _frame(n_per_class=6, labels=("a", "b")):
    rows = [{"title": f"{lab} title {i}", "body": f"{lab} words here {i}", "cat": lab} for lab in labels for i in range(n_per_class)]
    return pd.DataFrame(rows)


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
    return {"kind": "files", "text_columns": ["title", "body"], "label_column": "cat", "valid_fraction": 0.25, "split_seed": 0, **paths, **extra}


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_files_source_reads_every_format(tmp_path, suffix):
    spec = _files_spec(tmp_path, _frame(), _frame(2), suffix)
    splits = load_source("local", spec)
    assert splits.label_names == ["a", "b"]
    assert len(splits.frames["valid"]) == 3 and len(splits.frames["train"]) == 9  # valid carved from train
    assert splits.frames["test"]["text"].iloc[0] == "a title 0\na words here 0"


def test_files_source_uses_a_given_valid_file(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2), valid=_frame(1))
    splits = load_source("local", spec)
    assert len(splits.frames["train"]) == 12 and len(splits.frames["valid"]) == 2


def test_missing_column_names_file_and_column(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2))
    spec["label_column"] = "category"
    with pytest.raises(DataError, match=r"train\.csv.*missing column\(s\) \['category'\]"):
        load_source("local", spec)


def test_non_utf8_file_is_refused_with_its_name(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2))
    with open(spec["test"], "ab") as f:
        f.write("caf\u00e9 au lait,x,a\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"test\.csv: not valid UTF-8"):
        load_source("local", spec)


def test_empty_texts_are_dropped_and_counted(tmp_path):
    train = _frame()
    train.loc[0, ["title", "body"]] = ["   ", ""]
    splits = load_source("local", _files_spec(tmp_path, train, _frame(2)))
    assert splits.dropped_empty == {"train": 1, "valid": 0, "test": 0}
    assert sum(len(splits.frames[s]) for s in ("train", "valid")) == 11


def test_labels_unseen_in_train_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"test split has label\(s\) \['c'\] that never occur in train"):
        load_source("local", _files_spec(tmp_path, _frame(), _frame(2, labels=("a", "c"))))


def test_fewer_than_two_classes_is_refused(tmp_path):
    with pytest.raises(DataError, match="at least two"):
        load_source("local", _files_spec(tmp_path, _frame(labels=("a",)), _frame(2, labels=("a",))))


def test_missing_file_is_named(tmp_path):
    spec = _files_spec(tmp_path, _frame(), _frame(2))
    spec["test"] = str(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_source("local", spec)


# ---- Hugging Face hub (mapping tested on a locally built DatasetDict) --------------------


def _hub_dict():
    features = datasets.Features(
        {"title": datasets.Value("string"), "content": datasets.Value("string"), "label": datasets.ClassLabel(names=["zeta", "alpha", "mid"])}
    )
    def make(n):
        rows = {"title": [], "content": [], "label": []}
        for label in range(3):
            for i in range(n):
                rows["title"].append(f"t{label}{i}")
                rows["content"].append(f"content {label} {i}")
                rows["label"].append(label)
        return datasets.Dataset.from_dict(rows, features=features)
    return datasets.DatasetDict({"train": make(20), "test": make(10)})


DBPEDIA_LIKE = {"kind": "hub", "path": "fancyzhx/dbpedia_14", "name": "dbpedia_14", "text_columns": ["title", "content"],
                "label_column": "label", "valid_fraction": 0.1, "split_seed": 0}  # fmt: skip


def test_hub_mapping_joins_title_and_content_and_keeps_classlabel_order():
    frames, names = hub_frames("dbp", DBPEDIA_LIKE, _hub_dict())
    assert names == ["zeta", "alpha", "mid"]
    assert set(frames) == {"train", "test"} and len(frames["train"]) == 60
    assert frames["test"]["text"].iloc[0] == "t00\ncontent 0 0"


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
    prepare_data("bbc", {**EMBEDDED, "subsample": {"train": 0.1}}, tmp_path)
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels["label_names"][0] == "business"
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert sum(labels["counts"]["train"].values()) == len(train)
    assert not list(tmp_path.glob("*.tmp"))
