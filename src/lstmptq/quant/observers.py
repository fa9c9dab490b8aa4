"""Scale statistics: observing quantizers that stand in for an activation quantizer in the float
statistics pass (lstmptq.quant.passes.thresholds) and give its clipping threshold.

Each is a registry entry (registry.STATISTICS, keyed by its scheme modifier letter), constructed
with the plan's percentile; `threshold(bits, signed)` sees the quantizer's own bits and signedness."""

from __future__ import annotations

import math

import torch
from torch import nn

from lstmptq.quant.artifact import activation_range
from lstmptq.registry import lookup


class Observer(nn.Module):
    """An observing quantizer: the identity, recording a scale statistic of what it sees
    (`observe`), from which `threshold` gives the clipping threshold for a quantizer of `bits`
    and signedness (None: it saw nothing)."""

    def __init__(self, percentile: float = 99.99):
        super().__init__()
        self.percentile = percentile  # the plan's; only the percentile statistic reads it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.observe(x)
        return x

    def observe(self, x: torch.Tensor) -> None:
        raise NotImplementedError

    def threshold(self, bits: int, signed: bool) -> torch.Tensor | None:
        raise NotImplementedError


class RunningPercentile(Observer):
    """Statistic `p`: Brevitas' calibration statistic of everything it sees.

    Per call, the `percentile`-th percentile of |x| (kthvalue at floor(q/100 * numel + 0.5),
    at least 1e-10); over calls, Brevitas' running mean buf * (n / (n + 1)) + stat / (n + 1),
    the same float32 operations in the same order.
    """

    def __init__(self, percentile: float = 99.99):
        super().__init__(percentile)
        self.mean: torch.Tensor | None = None
        self.calls = 0

    def observe(self, x: torch.Tensor) -> None:
        values = x.detach().abs().reshape(-1)
        k = int(math.floor(0.01 * self.percentile * values.numel() + 0.5))
        stat = (values.max() if k == values.numel() else torch.kthvalue(values, k).values).clamp_min(1e-10)
        n = self.calls
        self.mean = torch.ones((), dtype=stat.dtype) * stat if n == 0 else self.mean * (n / (n + 1)) + stat / (n + 1)
        self.calls += 1

    def threshold(self, bits: int, signed: bool) -> torch.Tensor | None:
        return self.mean


class PooledMax(Observer):
    """Statistic `m`: max |x| over every value of the pass (not a mean of per-call values)."""

    def __init__(self, percentile: float = 99.99):
        super().__init__(percentile)
        self.max: torch.Tensor | None = None

    def observe(self, x: torch.Tensor) -> None:
        top = x.detach().abs().max().to(torch.float32)
        self.max = top if self.max is None else torch.maximum(self.max, top)

    def threshold(self, bits: int, signed: bool) -> torch.Tensor | None:
        return None if self.max is None else self.max.clamp_min(1e-10).reshape(())


class PooledMSE(PooledMax):
    """Statistic `e`: the threshold that minimises the mean squared quantization error over the
    values of the pass, for the quantizer's own bits and signedness.

    It keeps a systematic sample of at most `capacity` values (every k-th value of each call; when
    full, every other value is dropped and k doubles), so memory stays bounded on any dataset and
    the result is deterministic; the max is exact. The search: `candidates` thresholds evenly
    over (0, max], then as many again between the best one's neighbours."""

    def __init__(self, percentile: float = 99.99, capacity: int = 2**20, candidates: int = 64):
        super().__init__(percentile)
        self.capacity, self.candidates = capacity, candidates
        self.stride, self.parts, self.kept = 1, [], 0

    def observe(self, x: torch.Tensor) -> None:
        super().observe(x)
        sample = x.detach().reshape(-1)[:: self.stride].to(torch.float32)
        self.parts.append(sample)
        self.kept += sample.numel()
        if self.kept > self.capacity:
            kept = torch.cat(self.parts)[::2]
            self.parts, self.kept, self.stride = [kept], kept.numel(), self.stride * 2

    def threshold(self, bits: int, signed: bool) -> torch.Tensor | None:
        if self.max is None:
            return None
        values = torch.cat(self.parts)
        low, high = activation_range(bits, signed)
        levels = float(max(-low, high))  # threshold / scale, as Brevitas defines the threshold

        def errors(thresholds: torch.Tensor) -> torch.Tensor:
            out = []
            for t in thresholds:
                scale = t / levels
                out.append(((torch.round(values / scale).clamp(low, high) * scale - values) ** 2).mean())
            return torch.stack(out)

        top = float(self.max.clamp_min(1e-10))
        coarse = torch.linspace(top / self.candidates, top, self.candidates)
        best = int(errors(coarse).argmin())
        fine = torch.linspace(
            float(coarse[max(best - 1, 0)]) if best else top / self.candidates**2,
            float(coarse[min(best + 1, len(coarse) - 1)]),
            self.candidates,
        )
        candidates = torch.cat([coarse, fine])
        return candidates[int(errors(candidates).argmin())].to(torch.float32).reshape(())


class Fixed(Observer):
    """Statistic `k`: the analytic threshold 1 of a sigmoid ([0, 1]) or tanh ([-1, 1]) output."""

    def observe(self, x: torch.Tensor) -> None:
        pass  # nothing to learn

    def threshold(self, bits: int, signed: bool) -> torch.Tensor | None:
        return torch.ones((), dtype=torch.float32)


def observer(statistic: str, percentile: float) -> Observer:
    """The observing quantizer of a scale statistic (its registry.STATISTICS entry)."""
    return lookup("statistics", statistic)(percentile=percentile)
