"""Counted work for the roofline benchmark (lstmptq.profiling) and the lines jobs log for it."""

import pytest
import torch

from lstmptq.profiling import WorkCounter
from lstmptq.runtime import run_step


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
