"""GPFQ for one weight matrix: the Gram (memory-efficient) form against a direct reference."""

from __future__ import annotations

import pytest
import torch

from lstmptq.quant.lstm.recurrent_gpfq import GramStatistics, gpfq, int_max, nearest


def direct_gpfq(weight, X, Xq, scale, bits, pinned=None) -> torch.Tensor:
    """Textbook GPFQ (Lybrand & Saab 2021), one row at a time with the N-length running error u."""
    n = int_max(bits)
    w, X, Xq, s = (a.to(torch.float64) for a in (weight, X, Xq, scale))
    q = torch.zeros(w.shape, dtype=torch.int32)
    for r in range(w.shape[0]):
        u = torch.zeros(X.shape[0], dtype=torch.float64)
        for t in range(w.shape[1]):
            target = u + w[r, t] * X[:, t]
            norm = Xq[:, t] @ Xq[:, t]
            if pinned is not None and pinned[r, t]:
                qt = torch.clamp(torch.round(w[r, t] / s[r]), -n, n)
            elif norm == 0:
                qt = torch.zeros((), dtype=torch.float64)
            else:
                qt = torch.clamp(torch.round(((Xq[:, t] @ target) / norm) / s[r]), -n, n)
            q[r, t] = int(qt)
            u = target - s[r] * qt * Xq[:, t]
    return q


def problem(seed, rows=6, cols=9, samples=50, noise=0.05, bits=4):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    X = torch.randn(samples, cols, generator=g, dtype=torch.float64)
    Xq = X + noise * torch.randn(samples, cols, generator=g, dtype=torch.float64)
    # distinct per-row scales, from the row max (as a per-row runtime quantizer would) times a row factor
    scale = w.abs().amax(dim=1) / int_max(bits) * torch.linspace(0.8, 1.2, rows, dtype=torch.float64)
    return w, X, Xq, scale


def gram(X, Xq):
    stats = GramStatistics(X.shape[1])
    stats.add(X, Xq)
    return stats.H, stats.G


def output_error(w, X, Xq, scale, q):
    """||X W^T - X~ (s * Q)^T||_F: quantized layer on X~ against the float layer on X."""
    return torch.linalg.norm(X @ w.T - Xq @ (scale[:, None] * q.to(torch.float64)).T).item()


def random_pins(seed, shape, p=0.3):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < p


@pytest.mark.parametrize("bits", [3, 4])
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("pin", [False, True])
def test_gram_form_equals_direct_form(bits, seed, pin):
    w, X, Xq, scale = problem(seed, bits=bits)
    pinned = random_pins(100 + seed, w.shape) if pin else None
    H, G = gram(X, Xq)
    expected = direct_gpfq(w, X, Xq, scale, bits, pinned)
    got = gpfq(w, H, G, scale, bits, pinned)
    assert got.dtype == torch.int32
    assert torch.equal(got, expected)
    # GPFQ must actually differ from nearest rounding here, or the comparison above proves little
    assert not torch.equal(got, nearest(w, scale, bits))


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_pinned_entries_are_nearest_rounding_and_all_integers_in_range(bits):
    w, X, Xq, scale = problem(7, rows=8, cols=12, samples=80, noise=0.3, bits=bits)
    scale = scale * 0.5  # a fine scale: many values clip, so the range check bites
    pinned = random_pins(8, w.shape)
    q = gpfq(w, *gram(X, Xq), scale, bits, pinned)
    n = int_max(bits)
    assert torch.equal(q[pinned], nearest(w, scale, bits)[pinned])
    assert int(q.abs().max()) == n  # reaches the clamp...
    assert int(q.min()) >= -n and int(q.max()) <= n  # ...and never passes it


def test_max_entry_pinned_keeps_the_row_scale():
    """The caller's use: pin each row's max-|w| entry, so max|s q| = max|w| and the runtime scale is unchanged."""
    bits = 3
    w, X, Xq, _ = problem(3, rows=8, cols=16, samples=60, noise=0.2, bits=bits)
    scale = w.abs().amax(dim=1) / int_max(bits)
    pinned = torch.zeros(w.shape, dtype=torch.bool)
    pinned[torch.arange(w.shape[0]), w.abs().argmax(dim=1)] = True
    q = gpfq(w, *gram(X, Xq), scale, bits, pinned)
    assert torch.equal(q.abs().amax(dim=1), torch.full((w.shape[0],), int_max(bits), dtype=torch.int32))
    assert torch.allclose((scale[:, None] * q).abs().amax(dim=1), w.abs().amax(dim=1), rtol=1e-15, atol=0)


def test_column_with_all_zero_quantized_input_gets_zero_unless_pinned():
    bits = 4
    w, X, Xq, scale = problem(11, rows=6, cols=9, samples=50, bits=bits)
    Xq[:, 4] = 0.0  # e.g. a hidden unit the quantized model never activates
    pinned = torch.zeros(w.shape, dtype=torch.bool)
    pinned[2, 4] = True
    H, G = gram(X, Xq)
    assert H[4, 4] == 0
    q = gpfq(w, H, G, scale, bits, pinned)
    near = nearest(w, scale, bits)
    assert near[:, 4].abs().min() > 0  # so zeros below are GPFQ's choice, not rounding's
    assert torch.equal(q[:, 4], torch.where(pinned[:, 4], near[:, 4], 0))
    assert torch.equal(q, direct_gpfq(w, X, Xq, scale, bits, pinned))
    assert torch.equal(gpfq(w, H, G, scale, bits)[:, 4], torch.zeros(6, dtype=torch.int32))


@pytest.mark.parametrize("inputs", ["independent", "correlated"])
def test_gpfq_beats_nearest_rounding_on_the_output(inputs):
    """A check that fails if the algorithm is wrong: the output error must drop, not only match a reference.

    With independent input columns (X^T X ~ N I) another column can hardly cancel a column's
    rounding error, so the gain is small (~4%); with correlated inputs (as LSTM inputs and hidden
    states are) it is large (~50%).
    """
    bits, rows, cols, samples = 3, 16, 64, 400
    g = torch.Generator().manual_seed(0)
    w = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    X = torch.randn(samples, cols, generator=g, dtype=torch.float64)
    if inputs == "correlated":  # near a 16-dimensional subspace
        X = (
            0.1 * X
            + torch.randn(samples, 16, generator=g, dtype=torch.float64)
            @ torch.randn(16, cols, generator=g, dtype=torch.float64)
            / 4
        )
    margin = 1.0 if inputs == "independent" else 0.7
    scale = w.abs().amax(dim=1) / int_max(bits) * 1.5
    q_near = nearest(w, scale, bits)
    H, G = gram(X, X)
    q = gpfq(w, H, G, scale, bits)
    assert torch.equal(q, gpfq(w, H, G, scale, 8))  # nothing clipped: a wider range changes no choice
    assert output_error(w, X, X, scale, q) < margin * output_error(w, X, X, scale, q_near)

    # X~ != X: GPFQ also accounts for the input perturbation, measured against the float output X W^T
    Xq = X + 0.2 * X.std() * torch.randn(samples, cols, generator=g, dtype=torch.float64)
    q = gpfq(w, *gram(X, Xq), scale, bits)
    margin = 1.0 if inputs == "independent" else 0.8
    assert output_error(w, X, Xq, scale, q) < margin * output_error(w, X, Xq, scale, q_near)


def test_gram_statistics_batches_equal_one_concatenated_batch():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(137, 11, generator=g, dtype=torch.float64)
    Xq = X + 0.1 * torch.randn(137, 11, generator=g, dtype=torch.float64)
    batched = GramStatistics(11)
    for lo, hi in [(0, 40), (40, 41), (41, 100), (100, 137)]:
        batched.add(X[lo:hi], Xq[lo:hi])
    whole = GramStatistics(11)
    whole.add(X, Xq)
    assert batched.samples == whole.samples == 137
    assert torch.allclose(batched.H, whole.H, rtol=1e-12, atol=1e-12)
    assert torch.allclose(batched.G, whole.G, rtol=1e-12, atol=1e-12)
    assert torch.allclose(whole.G, Xq.T @ X, rtol=1e-12, atol=1e-12)  # G's row index is the quantized input
    assert not torch.allclose(whole.G, whole.G.T)


def test_float32_inputs_are_accumulated_in_float64():
    stats = GramStatistics(3)
    stats.add(torch.ones(4, 3, dtype=torch.float32), torch.ones(4, 3, dtype=torch.float32))
    assert stats.H.dtype == stats.G.dtype == torch.float64


def test_bad_shapes_are_refused():
    w = torch.zeros(4, 3)
    with pytest.raises(ValueError):
        gpfq(w, torch.eye(3), torch.eye(3), torch.ones(3), 4)  # one scale per column, not row
    with pytest.raises(ValueError):
        gpfq(w, torch.eye(3), torch.eye(3), torch.ones(4), 4, torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError):
        GramStatistics(3).add(torch.zeros(5, 3), torch.zeros(4, 3))
