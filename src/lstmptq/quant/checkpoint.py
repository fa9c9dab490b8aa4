"""A PTQ cell's calibrated Brevitas state (quantized.pt): saved as a verified state dict with its
plan, and rebuilt from the FP32 model without re-calibration (no code from the file runs)."""

from __future__ import annotations

from torch import nn

from lstmptq.io import ResultFileError, load_torch, save_torch
from lstmptq.quant.build import Plan, quantize_model

QUANTIZED_FORMAT = 3  # 2: with a SHA-256 over settings and state; 3: a scheme instead of stage bits


def save_quantized(path, qmodel: nn.Module, fp32_meta: dict, plan: Plan, method: str) -> None:
    """A PTQ cell's calibrated Brevitas state (quantized.pt), with a checksum; `qmodel` on the CPU."""
    settings = {"fp32_meta": fp32_meta, "plan": plan.describe(), "method": method}
    save_torch(path, {"format": QUANTIZED_FORMAT, **settings, "state_dict": qmodel.state_dict()})


def load_quantized(model: nn.Module, path) -> tuple[nn.Module, dict]:
    """Rebuild a PTQ cell's calibrated model from its FP32 model and verified quantized.pt (no re-calibration)."""
    payload = load_torch(path, QUANTIZED_FORMAT, "quantized model")
    try:
        plan = payload["plan"]
        qmodel = quantize_model(model, Plan.described(plan))
        qmodel.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as err:  # intact, but not for this FP32 model or this code
        raise ResultFileError(path, f"does not fit this {model.kind} model ({err})") from err
    return qmodel.eval(), payload
