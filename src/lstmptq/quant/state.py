"""What a Brevitas model is made of, read through Brevitas' own accessors: integer weights and
their scales, activation quantizers' scales, bits and signedness, calibrated thresholds, the size
as deployed. Brevitas is not imported: these read the modules it built."""

from __future__ import annotations

import torch
from torch import nn

from lstmptq.quant.artifact import QuantizedWeight

THRESHOLD_KEY = (
    ".fused_activation_quant_proxy.tensor_quant.scaling_impl.value"  # an activation threshold's state_dict suffix
)


def quantized_weights(model: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor, int]]:
    """Integer weights, scale(s) and bit width of every weight-quantized layer, by module name
    (layers whose weights stay float are left out)."""
    out = {}
    for name, module in model.named_modules():
        if callable(getattr(module, "quant_weight", None)) and isinstance(
            getattr(module, "weight", None), nn.Parameter
        ):
            qw = module.quant_weight()
            if hasattr(qw, "scale"):  # a float layer's quant_weight is its plain weight
                out[name] = (qw.int().detach(), qw.scale.detach().reshape(-1), int(qw.bit_width))
    return out


def activation_thresholds(model: nn.Module) -> dict[str, float]:
    """Calibrated clipping threshold T of every activation quantizer
    (scale: T / 2^(b-1) signed, T / (2^b - 1) unsigned)."""
    return {k[: -len(THRESHOLD_KEY)]: float(v) for k, v in model.state_dict().items() if k.endswith(THRESHOLD_KEY)}


def size_bits(model: nn.Module) -> int:
    """Model size as deployed: b bits per quantized weight plus an fp32 scale per tensor (per row;
    a gate's scales are counted with W_ih and with W_hh, as the artifact stores them); fp32 for
    everything else that inference reads (float weights, biases, activation thresholds, the
    generative prior)."""
    weights = quantized_weights(model)
    quantized_keys = {f"{name}.weight" for name in weights}
    bits = sum(w.numel() * b + 32 * scale.numel() for w, scale, b in weights.values())  # as the artifact stores them
    for key, value in model.state_dict().items():
        if key not in quantized_keys and not key.endswith("weight_orig") and value.is_floating_point():
            bits += 32 * value.numel()
    return bits


def weight_of(module) -> QuantizedWeight | torch.Tensor:
    """A weight-quantized layer's integers, scale(s) and bit width, from Brevitas' own accessors;
    a float layer's weight as it is."""
    qw = module.quant_weight()
    if not hasattr(qw, "scale"):
        return module.weight.detach()
    narrow = bool(module.weight_quant.is_narrow_range)
    return QuantizedWeight(qw.int().detach().to(torch.int32), qw.scale.detach().reshape(-1), int(qw.bit_width), narrow)


def activation_spec(proxy) -> tuple[int, bool] | None:
    """An activation quantizer's bit width and signedness; None for a float one."""
    if not proxy.is_quant_enabled:
        return None
    return int(proxy.bit_width()), bool(proxy.is_signed)


def activation_of(proxy) -> tuple[torch.Tensor, int, bool] | None:
    """An activation quantizer's scale, bit width and signedness; None for a float one."""
    spec = activation_spec(proxy)
    return None if spec is None else (proxy.scale().detach(), *spec)
