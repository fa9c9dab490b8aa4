"""The design-space tables, their answers and figures, from synthetic PTQ metrics; the rule is
scheduled exactly when a sweep is configured."""

import pandas as pd
import pytest
from conftest import REPO, snakemake

from lstmptq import grid, scheme
from lstmptq.grid import DESIGN_SPACE_PLOTS
from lstmptq.io import ResultFileError, read_frame, write_json
from lstmptq.report import design_space as ds
from lstmptq.stages.design_space import design_space

POINTS = ("lstm_input", "lstm.accumulators", "lstm.cell_state", "head_input")  # forward order
THRESHOLD = 3.0


def metrics(
    name,
    accuracy,
    *,
    model="generative",
    seed=0,
    method="gpfq",
    fp32=0.95,
    activation_bits=1000.0,
    size_bits=100,
    local=(20, 20, 20, 20),
    flags=(),
):
    """A PTQ cell's metrics.json as the ptq stage writes it (the fields the tables read)."""
    settings = scheme.parse(name).settings
    letters = {"lstm_input": "a", "lstm.accumulators": "g", "lstm.cell_state": "c", "head_input": "a"}
    quantizers = [
        {"quantizer": point, "bits": settings[letters[point]].bits, "zero_share": 0.01 * position, "clipped_share": 0.0,
         "sqnr_db": own - 2, "local_sqnr_db": own, "values_per_token": 10.0}
        for position, (point, own) in enumerate(zip(POINTS, local, strict=True))
    ]  # fmt: skip
    return {
        "config": {"kind": model, "seed": seed}, "strategy": "balanced", "method": method, "base_method": method,
        "scheme": name, "bits": grid.bits_of(name), "classes": scheme.parse(name).describe(),
        "accuracy": accuracy, "fp32_accuracy": fp32, "accuracy_drop": fp32 - accuracy, "size_bits": size_bits,
        "activation_bits_per_token": activation_bits, "flags": list(flags),
        "engine_check": {"within_tolerance": True, "max_abs_score_difference": 1e-4, "prediction_agreement": 1.0},
        "diagnostics": {"quantizers": quantizers},
    }  # fmt: skip


def answered(cells_metrics, question):
    cells, quantizers = ds.cell_table(cells_metrics, THRESHOLD), ds.quantizer_table(cells_metrics, THRESHOLD)
    table = ds.answers(cells, quantizers, THRESHOLD)
    return table[table["question"] == question].reset_index(drop=True)


def test_cell_and_quantizer_tables_have_a_row_per_cell_and_per_point():
    cells_metrics = [
        metrics("w3c8", 0.9, local=(20, 2, 40, 1)),
        metrics("w4", 0.94, seed=1, flags=["calibration_smaller_than_batch"]),
    ]
    cells = ds.cell_table(cells_metrics, THRESHOLD)
    assert list(cells["scheme"]) == ["w4", "w3c8"]  # the widest weights first
    assert cells.loc[1, ["weights", "cell_state", "sigmoid_tanh_outputs"]].tolist() == ["3", "8", "3"]
    assert (
        cells.loc[1, "collapsed_quantizer"] == "lstm.accumulators" and cells.loc[1, "collapsed_local_sqnr_db"] == 2
    )  # the first, not head_input
    assert pd.isna(cells.loc[0, "collapsed_quantizer"]) and cells.loc[0, "flags"] == "calibration_smaller_than_batch"
    assert cells.loc[0, "engine_within_tolerance"] and cells.loc[0, "weight_bits"] == 4
    quantizers = ds.quantizer_table(cells_metrics, THRESHOLD)
    assert len(quantizers) == 2 * len(POINTS)
    w3c8 = quantizers[quantizers["scheme"] == "w3c8"]
    assert list(w3c8["quantizer"]) == list(POINTS) and list(w3c8["position"]) == [0, 1, 2, 3]
    assert list(w3c8["collapsed"]) == [False, True, False, False] and list(w3c8["bits"]) == [3, 3, 8, 3]


def test_the_cheapest_w4_within_one_point_is_the_fewest_activation_bits_then_the_smallest():
    cells_metrics = [
        metrics("w4a3", 0.80, fp32=0.9, activation_bits=800.0),  # cheapest, but 10 points down
        metrics("w4c16", 0.90, fp32=0.9, activation_bits=1200.0),
        metrics("w4", 0.895, fp32=0.9, activation_bits=1000.0, size_bits=100),
        # mean 0.89, exactly 1 point down (0.8899999999999999 in floats, below 0.9 - 0.01)
        *(metrics("w4r", a, seed=s, fp32=0.9, activation_bits=1000.0, size_bits=90) for s, a in ((0, 0.82), (1, 0.96))),
        metrics("w3", 0.90, fp32=0.9, activation_bits=500.0),  # 3-bit weights: another question
    ]
    row = answered(cells_metrics, "cheapest_w4_within_1pt").iloc[0]
    assert (row["scheme"], row["verdict"], row["n_seeds"]) == (
        "w4r",
        "reached",
        2,
    )  # ties w4 on activation bits, fewer model bits
    assert row["accuracy"] == pytest.approx(0.89) and row["gap_to_fp32"] == pytest.approx(-0.01)
    assert "3 of 4 schemes" in row["detail"]


def test_a_tie_in_cost_goes_to_the_more_accurate_scheme():
    cells_metrics = [
        metrics("w4a4ec8", 0.93, fp32=0.9),
        metrics("w4c8", 0.895, fp32=0.9),
        metrics("w4h8", 0.80, fp32=0.9, activation_bits=900.0),
    ]
    assert answered(cells_metrics, "cheapest_w4_within_1pt").iloc[0]["scheme"] == "w4a4ec8"
    cells_metrics[0]["accuracy"] = 0.891
    assert answered(cells_metrics, "cheapest_w4_within_1pt").iloc[0]["scheme"] == "w4c8"


def test_when_no_w3_scheme_is_within_three_points_the_most_accurate_is_not_reached():
    cells_metrics = [
        metrics("w3", 0.5),
        metrics("w3c8", 0.91, activation_bits=1100.0),
        metrics("w3h8", 0.91, activation_bits=1050.0),
        metrics("w4", 0.95),
    ]
    row = answered(cells_metrics, "cheapest_w3_within_3pt").iloc[0]
    assert (row["scheme"], row["verdict"]) == ("w3h8", "not reached")  # as accurate as w3c8, cheaper
    assert row["gap_to_fp32"] == pytest.approx(-0.04) and "4.00 points below" in row["detail"]


def test_a_question_without_cells_says_so():
    table = ds.answers(
        ds.cell_table([metrics("w8", 0.95)], THRESHOLD), ds.quantizer_table([metrics("w8", 0.95)], THRESHOLD), THRESHOLD
    )
    verdicts = dict(zip(table["question"], table["verdict"]))
    assert (
        verdicts["cheapest_w4_within_1pt"]
        == verdicts["cheapest_w3_within_3pt"]
        == verdicts["gpfq_lstm_vs_gpfq"]
        == "no cells"
    )
    assert (
        verdicts["single_change_fixes"] == "no cells" and verdicts["collapse"] == "none"
    )  # w8 is the lowest uniform scheme here


def test_collapse_is_read_at_the_lowest_uniform_scheme_on_the_seed_means():
    cells_metrics = [
        metrics("w4", 0.9, local=(20, 20, 1, 1)),
        metrics("w3", 0.5, seed=0, local=(20, 10, 1, 0.5)),  # cell state collapses in seed 0 ...
        metrics("w3", 0.5, seed=1, local=(20, 10, 4, 0.5)),  # ... not in seed 1: mean 2.5 dB < 3
        metrics("w3", 0.5, model="discriminative", local=(20, 20, 20, 20)),
    ]
    table = answered(cells_metrics, "collapse").set_index("model")
    generative = table.loc["generative"]
    assert (generative["scheme"], generative["quantizer"], generative["verdict"]) == (
        "w3",
        "lstm.cell_state",
        "collapsed",
    )
    assert (
        generative["local_sqnr_db"] == pytest.approx(2.5)
        and generative["sqnr_db"] == pytest.approx(0.5)
        and generative["zero_share"] == pytest.approx(0.02)
    )
    assert "2 of 2 seeds" in generative["detail"]  # head_input collapses on its own in both
    assert table.loc["discriminative", "verdict"] == "none" and pd.isna(table.loc["discriminative", "quantizer"])


def test_single_change_fixes_are_one_token_from_the_uniform_scheme_with_the_best_marked():
    collapsed = (20, 20, 1, 20)
    cells_metrics = [
        metrics("w3", 0.5, local=collapsed),
        metrics("w4", 0.9),  # one token from w3, but the next bit width, not a fix
        metrics("w3c8", 0.6, activation_bits=1100.0, local=(20, 20, 40, 20)),
        metrics("w3h8", 0.6, activation_bits=1050.0, local=collapsed),  # as good, cheaper: the best
        metrics("w3r", 0.5, local=collapsed),
        metrics("w3s3k", 0.45, local=collapsed),
        metrics("w4c8", 0.95),  # two changes
        metrics("w3c8", 0.9, method="gpfq_lstm"),  # another method
    ]
    table = answered(cells_metrics, "single_change_fixes").set_index("scheme")
    assert sorted(table.index) == ["w3c8", "w3h8", "w3r", "w3s3k"]
    assert table["verdict"].to_dict() == {"w3c8": "helps", "w3h8": "helps", "w3r": "no change", "w3s3k": "hurts"}
    assert table["best"].to_dict() == {"w3c8": False, "w3h8": True, "w3r": False, "w3s3k": False}
    assert table.loc["w3c8", "gain"] == pytest.approx(0.1) and table.loc["w3s3k", "gain"] == pytest.approx(-0.05)
    assert (
        not table.loc["w3c8", "collapses"]
        and table.loc["w3h8", "collapses"]
        and table.loc["w3h8", "quantizer"] == "lstm.cell_state"
    )
    assert set(table["reference_scheme"]) == {"w3"} and set(table["method"]) == {"gpfq"}


def test_gpfq_lstm_is_compared_with_gpfq_wherever_both_ran_at_four_and_three_bits():
    cells_metrics = [
        metrics("w4", 0.90, method="gpfq"), metrics("w4", 0.92, method="gpfq_lstm"),
        metrics("w3", 0.60, method="gpfq"), metrics("w3", 0.55, method="gpfq_lstm"),
        metrics("w3c8", 0.80, method="gpfq"), metrics("w3c8", 0.80, method="gpfq_lstm"),
        metrics("w3r", 0.70, method="gpfq"),  # gpfq only
        metrics("w8", 0.95, method="gpfq"), metrics("w8", 0.95, method="gpfq_lstm"),  # not 4 or 3 bits
    ]  # fmt: skip
    table = answered(cells_metrics, "gpfq_lstm_vs_gpfq")
    assert list(table["scheme"]) == ["w4", "w3", "w3c8"]  # per bit width, the uniform scheme first
    assert table["gain"].tolist() == pytest.approx([0.02, -0.05, 0.0])
    assert table["verdict"].tolist() == ["gpfq_lstm better", "gpfq better", "equal"]
    assert set(table["method"]) == {"gpfq_lstm"} and set(table["reference_method"]) == {"gpfq"}


def test_the_pareto_front_keeps_only_undominated_points_by_ascending_cost():
    frame = pd.DataFrame({"scheme": list("abcdef"), "x": [3, 1, 2, 2, 4, 1], "y": [0.9, 0.5, 0.7, 0.6, 0.9, 0.4]})
    assert list(ds.pareto_front(frame, "x", "y")["scheme"]) == ["b", "c", "a"]  # e: as accurate as a, dearer


def test_the_sensitivity_cells_have_one_class_below_the_rest():
    names = ["w3a8", "w8c3", "wfc3", "w8c16", "w4", "w8cf", "w4c16"]
    cells = ds.cell_table([metrics(n, 0.9) for n in names], THRESHOLD)
    swept = ds.sensitivity(cells).set_index("scheme")
    assert sorted(swept.index) == ["w3a8", "w8c3", "wfc3"]
    assert swept.loc["w3a8", ["class", "alone_bits", "rest_bits"]].tolist() == ["weights", 3, 8]
    assert swept.loc["wfc3", "class"] == "cell state" and pd.isna(swept.loc["wfc3", "rest_bits"])


def sweep(models=("discriminative", "generative"), seeds=(0, 1)):
    names = ["w4", "w3", "w4c16", "w3c8", "w3r", "w8c3", "w3a8", "wfc3"]
    return [
        metrics(name, 0.9 - 0.05 * (grid.bits_of(name) == 3) + 0.01 * seed, model=model, seed=seed, method=method,
                activation_bits=100.0 * sum((s.bits or 32) for s in scheme.parse(name).settings.values()),
                local=(20, 10, 2 if name == "w3" else 30, 15),
                flags=["calibration_smaller_than_batch"] if (seed, name) == (1, "w3") else ())
        for model in models for seed in seeds for name in names
        for method in (["gpfq", "gpfq_lstm"] if name in ("w4", "w3") else ["gpfq"])
    ]  # fmt: skip


def write_cells(folder, cells_metrics):
    files = []
    for i, m in enumerate(cells_metrics):
        files.append(folder / f"cell{i}.json")
        write_json(files[-1], m)
    return [str(f) for f in files]


def run_stage(tmp_path, cells_metrics):
    out = tmp_path / "out"
    files = write_cells(tmp_path, cells_metrics)
    labels = tmp_path / "labels.json"  # 60 test documents: one moves accuracy by more than 1 point
    write_json(labels, {"counts": {"train": {"a": 300, "b": 300}, "test": {"a": 30, "b": 30}}})
    checks = {"max_accuracy_step": 0.01, "min_train_per_class": 20}
    png_files = {name: out / f"{name}.png" for name in DESIGN_SPACE_PLOTS}
    pdf_files = {name: out / f"{name}.pdf" for name in DESIGN_SPACE_PLOTS}
    tables = [out / "cells.csv", out / "quantizers.csv", out / "answers.csv"]
    design_space(files, str(labels), checks, THRESHOLD, *tables, png_files, pdf_files)
    return out


def test_the_stage_writes_three_tables_and_every_figure_as_png_and_pdf(tmp_path):
    out = run_stage(tmp_path, sweep())
    cells, answers = read_frame(out / "cells.csv"), read_frame(out / "answers.csv")
    assert len(cells) == 2 * 2 * 10 and len(read_frame(out / "quantizers.csv")) == len(cells) * len(POINTS)
    assert set(answers["question"]) == {*ds.TARGETS, "collapse", "single_change_fixes", "gpfq_lstm_vs_gpfq"}
    assert list(answers.columns) == ds.ANSWER_COLUMNS and set(answers["model"]) == {"discriminative", "generative"}
    assert cells["flags"].str.contains("small_test_set").all()  # the dataset's, from labels.json and checks
    for name in DESIGN_SPACE_PLOTS:
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / f"{name}.pdf").read_bytes()[:4] == b"%PDF"


def test_the_figures_render_without_a_sensitivity_sweep_or_a_second_seed(tmp_path):
    cells_metrics = [m for m in sweep(models=("generative",), seeds=(0,)) if scheme.sensitivity_of(m["scheme"]) is None]
    out = run_stage(tmp_path, cells_metrics)
    assert all((out / f"{name}.png").stat().st_size > 0 for name in DESIGN_SPACE_PLOTS)


def test_a_cell_without_diagnostics_is_refused_with_the_rebuild_command(tmp_path):
    old = metrics("w4", 0.9)
    del old["diagnostics"]
    with pytest.raises(ResultFileError, match="no per-quantizer diagnostics.*snakemake .*cell0.json --force"):
        run_stage(tmp_path, [old])


# ---- the rule -----------------------------------------------------------------------------


@pytest.mark.workflow
@pytest.mark.parametrize("configured", [False, True])
def test_the_rule_is_scheduled_exactly_when_a_sweep_is_configured(tmp_path, configured):
    from test_workflow import job_counts

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(
        "design_space: {methods: [gpfq], schemes: [w4c16], sensitivity: {bits: [3], rest: [8]}}\n"
        if configured
        else "{}\n"
    )
    result = snakemake(
        tmp_path, "-n", "--quiet", "rules", configfiles=(REPO / "tests" / "configs" / "tiny.yaml", overlay)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts = job_counts(result.stdout)
    study_cells = 2 * 2 * 2  # tiny: classifiers x strategies x recipes (paper, uniform) at 4 bits, one seed
    if configured:
        assert counts["design_space"] == 1
        assert counts["ptq"] == study_cells + 2 * 8  # + classifiers x (w4c16 and 7 classes alone at 3 bits)
        assert counts["calibration_subset"] == 2  # the sweep's strategy (balanced) is the study's
    else:
        assert "design_space" not in counts and counts["ptq"] == study_cells
