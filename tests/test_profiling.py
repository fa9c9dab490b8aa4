"""Counted work for the roofline benchmark (lstmptq.profiling), the lines jobs log for it, and
the benchmark file each job writes."""

import pandas as pd
import pytest
import torch

from lstmptq.grid import benchmark_of
from lstmptq.profiling import WorkCounter
from lstmptq.runtime import BENCHMARK_COLUMNS, run_step


def test_matrix_products_and_transcendentals_are_counted_from_their_shapes():
    a, b = torch.randn(6, 4), torch.randn(4, 5)
    with WorkCounter() as counter:
        torch.exp(a @ b)
        torch.nn.functional.linear(torch.randn(2, 3, 4), torch.randn(7, 4), torch.randn(7)).sigmoid()
    assert counter.flops == 2 * 6 * 4 * 5 + 2 * (2 * 3) * 4 * 7
    assert counter.transcendentals == 6 * 5 + 2 * 3 * 7


def test_a_fused_lstm_is_counted_from_its_weights():
    torch.backends.mkldnn.enabled = True
    lstm = torch.nn.LSTM(8, 16, batch_first=True)
    with torch.no_grad(), WorkCounter() as counter:
        lstm(torch.randn(3, 10, 8))
    if counter.uncounted:  # a torch build without the fused CPU kernel: it must say so
        pytest.skip(f"nn.LSTM ran {counter.uncounted}")
    steps = 3 * 10
    assert counter.flops == 2 * steps * 4 * 16 * (8 + 16)
    assert counter.transcendentals == steps * 5 * 16


def step_with_work():
    torch.exp(torch.ones(10))


def test_a_job_logs_its_start_up_and_with_the_switch_its_work(tmp_path, monkeypatch, root_logging_restored):
    log = tmp_path / "job.log"
    run_step(str(log), step_with_work)
    assert "start-up" in log.read_text() and "work: {" not in log.read_text()
    monkeypatch.setenv("LSTMPTQ_COUNT_WORK", "1")
    run_step(str(log), step_with_work)
    assert 'work: {"gemm_flops": 0, "transcendentals": 10, "uncounted": {}}' in log.read_text()


def failing_step():
    raise ValueError("no")


def test_a_job_records_its_own_benchmark_and_a_failed_one_none(tmp_path, monkeypatch, root_logging_restored):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs" / "rule").mkdir(parents=True)
    run_step("logs/rule/cell.log", step_with_work)
    frame = pd.read_csv(tmp_path / "benchmarks" / "rule" / "cell.tsv", sep="\t")
    assert list(frame.columns) == list(BENCHMARK_COLUMNS) and len(frame) == 1
    assert frame["s"].iloc[0] > 0 and frame["max_rss"].iloc[0] > 10 and frame["cpu_time"].iloc[0] > 0
    with pytest.raises(SystemExit):
        run_step("logs/rule/failed.log", failing_step)
    assert not (tmp_path / "benchmarks" / "rule" / "failed.tsv").exists()
    assert benchmark_of("elsewhere/cell.log") is None
