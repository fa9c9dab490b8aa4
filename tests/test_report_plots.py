"""The six figures from synthetic tables with two seeds (so error bands are drawn)."""

import itertools

import pandas as pd

from lstmptq.grid import PLOTS
from lstmptq.io import write_frame
from lstmptq.report.reference import COLUMNS, REFERENCE_FILE
from lstmptq.stages.plots import make_plots


def test_make_plots_writes_png_and_pdf_for_every_figure(tmp_path):
    rows, ks_rows = [], []
    for model, seed, (strategy, bits), recipe, eps in itertools.product(
        ["discriminative", "generative"],
        [0, 1],
        [("fp32", 32), ("balanced", 8), ("random", 8), ("balanced", 4), ("random", 4)],
        ["paper", "uniform"],
        [0.0, 0.1],
    ):
        if strategy == "fp32" and recipe == "uniform":
            continue
        accuracy = 0.9 - eps - (0.1 if bits == 4 else 0) + 0.01 * seed - 0.05 * (recipe == "uniform")
        method = "fp32" if strategy == "fp32" else "gpfq"
        recipe = "fp32" if strategy == "fp32" else recipe
        rows.append({"dataset": "toy", "model": model, "seed": seed, "recipe": recipe, "strategy": strategy,
                     "method": method,
                     "bits": bits, "noise": "char_substitution", "eps": eps,
                     "accuracy": accuracy, "drop_vs_fp32": 0.9 - eps - accuracy, "size_bits": 1000 * bits,
                     "flags": "calibration_smaller_than_batch" if (seed, strategy, bits) == (1, "random", 4)
                              else ""})  # fmt: skip
    for model, seed, bits, recipe, (comparison, strategy, tensor) in itertools.product(
        ["discriminative", "generative"], [0, 1], [8, 4], ["paper", "uniform"],
        [("fp32_vs_quantized", "balanced", "lstm"), ("fp32_vs_quantized", "balanced", "lstm_hidden"),
         ("balanced_vs_random", "", "scores")],
    ):  # fmt: skip
        ks_rows.append(
            {
                "model": model,
                "seed": seed,
                "bits": bits,
                "recipe": recipe,
                "comparison": comparison,
                "strategy": strategy,
                "tensor": tensor,
                "ks": 0.4 / bits + 0.01 * seed,
            }
        )
    write_frame(tmp_path / "study.parquet", pd.DataFrame(rows))
    write_frame(tmp_path / "ks.csv", pd.DataFrame(ks_rows))
    plots = tmp_path / "plots"
    png_files = {name: plots / f"{name}.png" for name in PLOTS}
    pdf_files = {name: plots / f"{name}.pdf" for name in PLOTS}
    write_frame(tmp_path / "comparison.csv", pd.DataFrame(columns=COLUMNS))  # the embedded data: no reference
    make_plots(
        tmp_path / "study.parquet", tmp_path / "ks.csv", png_files, pdf_files,
        summary_file=tmp_path / "study.parquet", comparison_file=tmp_path / "comparison.csv",
        reference_file=REFERENCE_FILE, reference_key=None,
    )  # fmt: skip
    for name in PLOTS:
        assert (tmp_path / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / "plots" / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(
        f"{n}.{e}" for n in PLOTS for e in ("png", "pdf")
    )
