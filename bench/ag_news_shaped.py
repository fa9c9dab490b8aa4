"""The reference comparison on data shaped like AG News, run as a new user would.

The hub is not reachable here, so this builds a local-files dataset with AG News' four class
names and its two text columns from the embedded BBC corpus (politics -> World, sports ->
Sports, business -> Business, tech -> Sci/Tech; entertainment dropped; title = the article's
first line, description = its first paragraph), a source with `reference: fancyzhx/ag_news`, and
runs the workflow on it through the `files` source: the paper recipe at every bit width, two
seeds, eps 0. The study's `reference_comparison.csv` then puts our cells beside the authors'
AG News figures. Prints `name: value` lines (accuracy in %, from that table):

    python bench/ag_news_shaped.py --workdir /tmp/ag_news_shaped --cores 2

The datasets differ (about 1.5k training documents against 120k), so the levels do not compare;
the check is that dataset, model and recipe match by source and the table and plot are built.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

from lstmptq.data.sources import read_embedded_bbc

AG_NEWS_CLASSES = {"politics": "World", "sports": "Sports", "business": "Business", "tech": "Sci/Tech"}
ROOT = Path(__file__).resolve().parents[1]


def ag_news_shaped(seed: int = 0, test_fraction: float = 0.2) -> dict[str, pd.DataFrame]:
    """train and test frames with AG News' columns (title, description, label)."""
    bbc = read_embedded_bbc()
    bbc = bbc[bbc["label"].isin(AG_NEWS_CLASSES)]
    lines = bbc["text"].str.split("\n")
    paragraphs = lines.map(lambda ls: [line.strip() for line in ls[1:] if line.strip()])
    frame = pd.DataFrame(
        {
            "title": lines.str[0].str.strip(),
            "description": paragraphs.str[0],
            "label": bbc["label"].map(AG_NEWS_CLASSES),
        }
    ).dropna()
    train, test = train_test_split(frame, test_size=test_fraction, stratify=frame["label"], random_state=seed)
    return {"train": train, "test": test}


def config(workdir: Path) -> dict:
    return {
        "datasets": ["ag_news_shaped"],
        "sources": {
            "ag_news_shaped": {
                "kind": "files",
                "train": str(workdir / "train.csv"),
                "test": str(workdir / "test.csv"),
                "text_columns": ["title", "description"],
                "label_column": "label",
                "reference": "fancyzhx/ag_news",
                "drop_duplicates": True,  # BBC repeats some articles; AG News' test split shares none with train
            }
        },
        "seeds": [0, 1],
        "ptq": {"recipes": ["paper"], "extra": []},
        "noise": {"eps": [0]},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, required=True, help="where the data, config and results go")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for split, frame in ag_news_shaped().items():
        frame.to_csv(workdir / f"{split}.csv", index=False)
    (workdir / "ag_news_shaped.yaml").write_text(yaml.safe_dump(config(workdir), sort_keys=False))
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--snakefile", str(ROOT / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(ROOT / "config.yaml"), str(workdir / "ag_news_shaped.yaml")],
        check=True,
    )  # fmt: skip
    print(f"wall_s: {time.perf_counter() - start:.0f}")
    table = pd.read_csv(workdir / "results/ag_news_shaped/tables/reference_comparison.csv")
    print(f"compared_rows: {len(table)}")
    fp32 = table.groupby("model")["our_fp32_accuracy"].first()
    for model, accuracy in fp32.items():
        print(f"{model}/fp32/ours: {100 * accuracy:.2f}")
    for row in table.itertuples(index=False):
        cell = f"{row.model}/{row.strategy}/{row.method}/w{row.bits}"
        print(f"{cell}/ours: {100 * row.our_accuracy:.2f} [{100 * row.our_ci_low:.1f}, {100 * row.our_ci_high:.1f}]")
        print(f"{cell}/paper/{row.paper_source}/{row.paper_run}: {100 * row.paper_accuracy:.2f}")


if __name__ == "__main__":
    main()
