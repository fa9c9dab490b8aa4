"""GPFQ on a linear layer: Brevitas' own algorithm with a cheaper inner loop (same weights, bit for bit)."""

from __future__ import annotations

import torch
from brevitas.core.stats import StatsOp
from brevitas.graph.gpfq import GPFQ

from lstmptq.quant.artifact import weight_range


def incremental_gpfq():
    """Brevitas' GPFQ with a cheaper inner loop, for a linear layer whose weight quantizer is
    signed, narrow-range and per-tensor with a max-|W| scale (else Brevitas' own loop runs).

    At each of its C column steps Brevitas re-quantizes the whole (out, C) weight, because the
    column it has just finished changes the weight and may change the scale. With a max-|W| scale
    only a new maximum can: here the finished column is quantized alone, with the current scale,
    and the whole weight again (by Brevitas) only when its maximum moved. Every other operation is
    Brevitas' own, in its order, so the weights are the same bit for bit (tests/test_quant_passes.py)."""

    class IncrementalGPFQ(GPFQ):
        def single_layer_update(self):
            layer = self.layer
            spec = layer.weight_quant.quant_injector
            quantized = layer.quant_weight()
            if (
                self.groups != 1
                or self.act_order
                or quantized.scale.numel() != 1
                or not (spec.scaling_stats_op == StatsOp.MAX and spec.signed and spec.narrow_range)
            ):
                return super().single_layer_update()
            weight = layer.weight.data.view(1, *layer.weight.shape)  # views, indexed as Brevitas does
            original = layer.weight_orig.data.to(weight.device).view(1, *layer.weight.shape)
            H, G = self.H[0], self.G[0]
            weight[0, :, H.diag() == 0] = 0  # a column whose quantized input is always zero is pruned
            order = torch.arange(H.shape[-1], device=weight.device)
            dg, dh = G.diag(), H.diag()
            ratio = torch.where(dg * dh != 0, dg / dh, torch.zeros_like(dg))
            inverse = torch.where(dh != 0, 1.0 / dh, torch.zeros_like(dh))
            lower_g = torch.diag(inverse) @ torch.tril(G, -1)
            lower_h = torch.diag(inverse) @ torch.tril(H, -1)
            del self.H, self.G
            low, high = weight_range(int(quantized.bit_width))
            column_max = weight[0].abs().amax(dim=0)
            quantized = layer.quant_weight()  # after pruning, as Brevitas' first step sees it
            top, scale, values = column_max.max(), quantized.scale, quantized.value.unsqueeze(0)
            for t in range(weight.shape[-1]):
                if t:
                    finished = weight[0, :, t - 1]
                    column_max[t - 1] = finished.abs().max()
                    if torch.equal(column_max.max(), top):
                        values[0, :, t - 1] = torch.round(finished / scale).clamp(low, high) * scale
                    else:
                        quantized = layer.quant_weight()
                        top, scale, values = column_max.max(), quantized.scale, quantized.value.unsqueeze(0)
                history = values[:, :, order[:t]][0]
                correction = original[0, :, order[:t]].matmul(lower_g[t, :t])
                error = history.matmul(lower_h[t, :t])
                weight[0, :, t] = ratio[t] * weight[0, :, t] + correction - error

    return IncrementalGPFQ
