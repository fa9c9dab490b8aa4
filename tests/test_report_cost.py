"""The run's cost table (lstmptq.report.cost) from jobs' benchmark files and logs."""

import pandas as pd
import pytest

from lstmptq.report.cost import compute_fraction, cost_table, jobs, write_cost
from lstmptq.runtime import BENCHMARK_COLUMNS


def job_files(run, rule, parts, wall, startup=None, work=None):
    bench = run / "benchmarks" / rule / f"{parts}.tsv"
    bench.parent.mkdir(parents=True, exist_ok=True)
    bench.write_text("\t".join(BENCHMARK_COLUMNS) + f"\n{wall}\t00:00:01\t100\t0\t0\t{wall / 2}\n")
    log = run / "logs" / rule / f"{parts}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"x INFO m: step s: start-up {startup:.2f} s (...)"] if startup is not None else []
    lines += (
        [f'x INFO m: work: {{"gemm_flops": {work[0]}, "transcendentals": {work[1]}, "uncounted": {{}}}}']
        if work
        else []
    )
    log.write_text("\n".join(lines) + "\n")


def test_jobs_are_summed_per_rule_and_classifier_with_start_up_and_compute_fraction(tmp_path):
    job_files(tmp_path, "ptq", "data/generative/seed0/a", 10.0, startup=2.0, work=(4e9, 0))
    job_files(tmp_path, "ptq", "data/generative/seed1/a", 12.0, startup=3.0)
    job_files(tmp_path, "ptq", "data/generative/seed2/a", 20.0, startup=4.0)
    job_files(tmp_path, "ptq_table", "data", 1.0)
    job_files(tmp_path, "ptq", "data/transformer_generative/seed0/a", 7.0)
    found = jobs(tmp_path)
    assert len(found) == 5 and "transformer_generative" in {j["model"] for j in found}  # every family by name
    peak = {"gemm_gflop_per_s": 1.0, "exp_gelement_per_s": 1.0}
    table = cost_table(found, peak).set_index(["rule", "model"])
    ptq = table.loc["ptq", "generative"]
    assert ptq["jobs"] == 3 and ptq["job_seconds"] == pytest.approx(42.0) and ptq["cpu_seconds"] == pytest.approx(21.0)
    assert ptq["wall_median_s"] == 12.0 and ptq["startup_median_s"] == 3.0
    # 4 GFLOP at 1 GFLOP/s = 4 s over the 10 - 2 s after start-up; the other jobs counted nothing
    assert ptq["compute_fraction"] == pytest.approx(0.5) and ptq["counted_jobs"] == 1
    assert table.loc["ptq_table", "-"]["jobs"] == 1 and pd.isna(table.loc["ptq_table", "-"]["startup_median_s"])
    assert compute_fraction(found[0], None, peak) is None


def test_the_cost_table_is_written_and_measures_peaks_only_when_work_was_counted(tmp_path):
    job_files(tmp_path, "train", "data/discriminative/seed0", 5.0, startup=1.0)
    table = write_cost(tmp_path, tmp_path / "cost.csv")
    assert (tmp_path / "cost.csv").is_file() and not any(c.startswith("peak_") for c in table.columns)
