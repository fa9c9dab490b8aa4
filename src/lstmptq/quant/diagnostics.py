"""Where a quantized model loses its signal: per quantization point, on the verification sample.

The quantized engine (the cell's artifact) and its float twin (the same family's engine with every
weight and activation float: the FP32 model, run the same way) read the same documents, batched
by equal length (no padding, so every value is a real position). At every quantization point of the engine
(`engine.FakeQuant`, in the order the forward first reaches them: the LSTM input, gate
accumulators, sigmoids, tanh(g), cell state, tanh(c), h, the final layer's input) it records:

- `zero_share`: the share of nonzero inputs that round to zero (the dead zone, |x| < scale / 2);
- `clipped_share`: the share of inputs beyond the integer range;
- `sqnr_db`: 10 log10(sum f^2 / sum (q - f)^2) of the point's output q against the float twin's
  output f at the same point: the signal left after every error upstream (0 dB: as much error
  as signal; a dead cell state, q = 0, gives exactly 0 dB);
- `local_sqnr_db`: the same of q against the point's own input: its own rounding and clipping.
  `design_space.first_collapsed` reads this one: inside the recurrence every point feeds every other through
  h_{t-1}, so the end-to-end SQNR is low downstream and upstream of the culprit alike, while the
  point that destroys its own input stands out by its own SQNR;
- `bits` (None: float) and `values_per_token`, from which `activation_bits_per_token`: the
  activation bits the model produces per token (a float point counts 32).

A point where the float model itself is zero has sqnr nan. Brevitas is not imported here: the PTQ
cell builds the twin with `quant.float_twin` (the family's export of its all-float scheme `wf`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmptq.models.training import Encoded, collate
from lstmptq.quant.engine import FakeQuant

FLOAT_BITS = 32


def _points(model: nn.Module) -> dict[str, FakeQuant]:
    return {name: module for name, module in model.named_modules() if isinstance(module, FakeQuant)}


def _record(points: dict[str, FakeQuant], calls: dict[str, list]) -> list:
    def hook(name):
        def keep(module, inputs, output):
            calls.setdefault(name, []).append((inputs[0].detach(), output.detach()))

        return keep

    return [module.register_forward_hook(hook(name)) for name, module in points.items()]


def _db(signal: float, noise: float) -> float:
    if signal == 0:
        return float("nan")
    return float("inf") if noise == 0 else 10 * math.log10(signal / noise)


@torch.no_grad()
def quantizer_diagnostics(quantized: nn.Module, float_twin: nn.Module, documents: Encoded) -> dict[str, Any]:
    """Per quantization point of `quantized`, on `documents` (both engines on the CPU)."""
    points, twin_points = _points(quantized), _points(float_twin)
    if set(points) != set(twin_points):
        raise ValueError(f"the float twin has other quantization points: {sorted(set(points) ^ set(twin_points))}")
    # per point: inputs, nonzero inputs, rounded to zero, clipped, then (signal, noise) vs the
    # float twin and vs its own input
    sums: dict[str, np.ndarray] = {}
    order: list[str] = []
    tokens = 0
    for length in np.unique(documents.lengths):
        ids, lengths, _ = collate(documents, np.flatnonzero(documents.lengths == length), "cpu")
        tokens += int(lengths.sum())
        seen: dict[str, dict[str, list]] = {"q": {}, "f": {}}
        for model, model_points, key in ((quantized, points, "q"), (float_twin, twin_points, "f")):
            handles = _record(model_points, seen[key])
            try:
                model.class_scores(ids, lengths)
            finally:
                for handle in handles:
                    handle.remove()
        for name, calls in seen["q"].items():
            if name not in order:
                order.append(name)
            point = points[name]
            for (x, q), (_, f) in zip(calls, seen["f"][name], strict=True):
                x64, q64, f64 = x.double(), q.double(), f.double()
                if point.scale is not None:
                    levels = torch.round(x / point.scale)
                    zero, clipped = (
                        ((levels == 0) & (x != 0)).sum(),
                        ((levels < point.low) | (levels > point.high)).sum(),
                    )
                else:
                    zero = clipped = 0
                counts = [
                    x.numel(),
                    (x != 0).sum(),
                    zero,
                    clipped,
                    (f64**2).sum(),
                    ((q64 - f64) ** 2).sum(),
                    (x64**2).sum(),
                    ((q64 - x64) ** 2).sum(),
                ]
                sums[name] = sums.get(name, 0) + np.array([float(c) for c in counts])
    rows = []
    for name in order:
        count, nonzero, zero, clipped, signal, noise, own_signal, own_noise = sums[name]
        bits = points[name].bits
        rows.append({
            "quantizer": name,
            "bits": bits,
            "zero_share": zero / nonzero if nonzero else float("nan"),
            "clipped_share": clipped / count,
            "sqnr_db": _db(signal, noise),
            "local_sqnr_db": _db(own_signal, own_noise),
            "values_per_token": count / tokens,
        })  # fmt: skip
    activation_bits = sum((r["bits"] or FLOAT_BITS) * r["values_per_token"] for r in rows)
    return {
        "documents": len(documents),
        "tokens": tokens,
        "quantizers": rows,
        "activation_bits_per_token": activation_bits,
    }
