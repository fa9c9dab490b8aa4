"""The transformer classifiers in Brevitas, and their integer weights and quantizers read back
as the artifact stores them.

The quantized model is a copy of the FP32 one with every nn.Linear and nn.Embedding swapped for
Brevitas' QuantLinear / QuantEmbedding and every identity point for a QuantIdentity
(attention is the model's own: its projections are linears, its two matrix products read
quantized operands), so it runs the FP32 model's forward. LayerNorm, softmax and GELU run in
float on quantized inputs, as Brevitas' own layers leave them.
"""

from __future__ import annotations

import copy

from brevitas.nn import QuantIdentity
from torch import nn

from lstmptq.quant.artifact import write
from lstmptq.quant.build import Plan, activation_quantizer, quant_embedding, quant_linear
from lstmptq.quant.state import activation_of, weight_of
from lstmptq.quant.transformer.points import UNSIGNED


def points(model: nn.Module) -> list[str]:
    """Module paths of the model's identity quantization points."""
    return [name for name, module in model.named_modules() if name and isinstance(module, nn.Identity)]


def _swap(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attribute, module)


def quantize_transformer(model: nn.Module, plan: Plan) -> nn.Module:
    """A quantized copy of a transformer classifier, every layer and point as `plan` says."""
    q = copy.deepcopy(model).cpu().eval()
    for name, module in list(q.named_modules()):
        if isinstance(module, nn.Linear):
            _swap(q, name, quant_linear(module, plan, f"{name}.weight"))
        elif isinstance(module, nn.Embedding):
            _swap(q, name, quant_embedding(module, plan, f"{name}.weight"))
    for name in points(model):
        signed = name.rsplit(".", 1)[-1] not in UNSIGNED
        quantizer = activation_quantizer(plan.setting(name), plan.percentile_of(name), signed)
        _swap(q, name, QuantIdentity(act_quant=quantizer))
    if hasattr(q, "per_label_decoder"):
        q.per_label_decoder = True  # Brevitas' reference: one decoder call per label
    return q.eval()


def export_transformer(qmodel: nn.Module, path, header: dict) -> int:
    """Write a calibrated transformer classifier as a Brevitas-free artifact; returns bytes.
    Integer weights and scales through Brevitas' own accessors; biases, LayerNorms and the
    generative prior as float."""
    weights, floats, activations = {}, {}, {}
    for name, module in qmodel.named_modules():
        if isinstance(module, QuantIdentity):
            activations[name] = activation_of(module.act_quant)
        elif callable(getattr(module, "quant_weight", None)):
            weights[f"{name}.weight"] = weight_of(module)
            if getattr(module, "bias", None) is not None:
                floats[f"{name}.bias"] = module.bias.detach()
        elif isinstance(module, nn.LayerNorm):
            floats[f"{name}.weight"], floats[f"{name}.bias"] = module.weight.detach(), module.bias.detach()
    if hasattr(qmodel, "log_prior"):
        floats["log_prior"] = qmodel.log_prior
    return write(path, {"kind": qmodel.kind, **header, "shape": qmodel.shape}, weights, floats, activations)
