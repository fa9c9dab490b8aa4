"""What a job computes, counted: matrix-product FLOPs and transcendental elements (exp, sigmoid,
tanh, log), for the roofline benchmark (bench/roofline.py).

Off unless the job's environment sets LSTMPTQ_COUNT_WORK=1 (runtime.run_step): counting sees
every torch operation from Python, which costs a few microseconds each, so the workflow's own
runs never count. Counts come from the operations as dispatched, so Brevitas' passes, the engine
and training are counted alike; nn.LSTM's fused CPU kernel is counted from its shapes.
"""

from __future__ import annotations

import math
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten

# one transcendental evaluation per output element (log_softmax: an exp per element, one log per row)
TRANSCENDENTAL = {
    aten.exp.default, aten.exp_.default, aten.exp.out, aten.sigmoid.default, aten.sigmoid_.default,
    aten.tanh.default, aten.tanh_.default, aten.log.default, aten.log_.default, aten.log1p.default,
    aten._log_softmax.default, aten._softmax.default, aten.logsumexp.default, aten.erf.default,
}  # fmt: skip
RECURRENT = ("rnn", "lstm", "gru")  # fused recurrent kernels: counted from shapes, or reported as uncounted


def _numel(value) -> int:
    return value.numel() if isinstance(value, torch.Tensor) else sum(_numel(v) for v in value or ())


def gemm_flops(func, args) -> int:
    """2 m n k of a matrix product (batched: times the batch), 0 for any other operation."""
    if func in (aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default):
        a, b = (args[1], args[2]) if func in (aten.addmm.default, aten.baddbmm.default) else (args[0], args[1])
        return 2 * math.prod(a.shape) * b.shape[-1]
    if func in (aten.mv.default, aten.addmv.default):
        return 2 * _numel(args[1] if func is aten.addmv.default else args[0])
    return 0


def lstm_layer(args) -> tuple[int, int]:
    """(FLOPs, transcendentals) of aten.mkldnn_rnn_layer: input (T, B, E), weights (4H, E), (4H, H)."""
    x, w_ih, w_hh = args[0], args[1], args[2]
    steps_batch = math.prod(x.shape[:-1])
    four_h = w_ih.shape[0]
    return 2 * steps_batch * four_h * (w_ih.shape[1] + w_hh.shape[1]), steps_batch * four_h * 5 // 4


class WorkCounter(TorchDispatchMode):
    """Counts while active: `flops` (matrix products), `transcendentals`, and `uncounted`: the
    recurrent kernels it could not size, by name (their work is missing from the totals)."""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self.transcendentals = 0
        self.uncounted: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.flops += gemm_flops(func, args)
        if func in TRANSCENDENTAL:
            self.transcendentals += _numel(out)
        elif func is aten.mkldnn_rnn_layer.default:
            flops, transcendentals = lstm_layer(args)
            self.flops += flops
            self.transcendentals += transcendentals
        elif any(word in str(func) for word in RECURRENT):
            self.uncounted[str(func)] += 1
        return out

    def summary(self) -> dict:
        return {"gemm_flops": self.flops, "transcendentals": self.transcendentals, "uncounted": dict(self.uncounted)}
