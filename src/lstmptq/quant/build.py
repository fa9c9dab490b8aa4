"""Brevitas models from FP32 ones: the quantizers a scheme gives each quantization point.

The FP32 models expose their layers and identity quantization points (`lstm_input`,
`head_input`); a family's `quantize` swaps each for its Brevitas counterpart with the helpers
here (and its architecture's own, e.g. lstmptq.quant.lstm.build), so the quantized model runs the
FP32 model's own forward. A `Plan` (a scheme from lstmptq.scheme, the percentile, a stage kept at 8
bits) gives each quantizer, by its artifact name, its setting. Symmetric quantizers throughout:

- weights: max-|W| scale, narrow range (b bits -> integers in +-(2^(b-1) - 1); a scheme's `u`:
  full range, -2^(b-1)..2^(b-1) - 1, scale max-|W| / 2^(b-1)), one scale per
  tensor (per gate for the LSTM: Brevitas shares it between W_ih and W_hh) or per output row;
- activations: one scale per tensor, its threshold set by calibration (lstmptq.quant.methods:
  the scheme's statistic), signed, or unsigned for sigmoid outputs;
- a float setting leaves that quantizer out (Brevitas' `None`).

Stages (a method may keep one at 8 bits, scheme.stage_of):
- ``embedding``: token (and label) embedding weights and the LSTM input activation;
- ``lstm``: LSTM weights, gate accumulators, sigmoid/tanh outputs, cell state, hidden state;
- ``head``: the final layer's input activation and weights.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from brevitas.nn import QuantEmbedding, QuantIdentity, QuantLinear
from brevitas.quant import (
    Int8ActPerTensorFloat,
    Int8WeightPerChannelFloat,
    Int8WeightPerTensorFloat,
    Uint8ActPerTensorFloat,
)
from torch import nn

from lstmptq.registry import family
from lstmptq.scheme import Scheme, Setting, class_of, parse, stage_of
from lstmptq.scheme import uniform as uniform_scheme


@dataclass(frozen=True)
class Plan:
    """What to build: a scheme (lstmptq.scheme), the percentile of its `p` statistic (per class
    where a recipe sets one: `percentiles`, class letter -> percentile), and a stage kept at 8
    bits (a `-<stage>8` method, or None)."""

    scheme: Scheme
    percentile: float
    keep_8bit: str | None = None
    percentiles: tuple[tuple[str, float], ...] = ()

    @classmethod
    def uniform(cls, bits: int, percentile: float = 99.99) -> Plan:
        """The paper's setting: everything at `bits`."""
        return cls(parse(uniform_scheme(bits)), percentile)

    def setting(self, quantizer: str) -> Setting:
        """The setting of a quantizer named as in the artifact (`lstm.cell_state`, `classifier.weight`)."""
        setting = self.scheme.settings[class_of(quantizer)]
        return replace(setting, bits=8) if stage_of(quantizer) == self.keep_8bit else setting

    def percentile_of(self, quantizer: str) -> float:
        """The percentile of a quantizer's `p` statistic: its class's, else the plan's."""
        return dict(self.percentiles).get(class_of(quantizer), self.percentile)

    def describe(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme.name,
            "percentile": self.percentile,
            "percentiles": dict(self.percentiles),
            "keep_8bit": self.keep_8bit,
        }

    @classmethod
    def described(cls, plan: dict[str, Any]) -> Plan:
        """The Plan of a `describe()` record (a saved cell's; `percentiles` is newer than the rest)."""
        percentiles = tuple(sorted((plan.get("percentiles") or {}).items()))
        return cls(parse(plan["scheme"]), plan["percentile"], plan["keep_8bit"], percentiles)


def weight_quantizer(setting: Setting, per_row_allowed: bool = True):
    """Brevitas weight quantizer of a setting: max-|W| scale, narrow range, per tensor or per
    output row; None (float) for a float setting."""
    if not setting.quantized:
        return None
    base = Int8WeightPerChannelFloat if setting.per_row and per_row_allowed else Int8WeightPerTensorFloat
    return base.let(bit_width=setting.bits, narrow_range=not setting.full_range)


def activation_quantizer(setting: Setting, percentile: float, signed: bool = True):
    """Brevitas activation quantizer of a setting (its threshold set by calibration); None for float."""
    if not setting.quantized:
        return None
    return (Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat).let(
        bit_width=setting.bits, high_percentile_q=percentile
    )


def quant_embedding(embedding: nn.Embedding, plan: Plan, name: str) -> nn.Module:
    """An embedding quantized as `name` says (per tensor always: a row is a token, not a channel)."""
    quantizer = weight_quantizer(plan.setting(name), per_row_allowed=False)
    quantized = QuantEmbedding(
        embedding.num_embeddings, embedding.embedding_dim, padding_idx=embedding.padding_idx, weight_quant=quantizer
    )
    quantized.weight.data.copy_(embedding.weight.data)
    return quantized


def quant_activation(plan: Plan, name: str) -> nn.Module:
    return QuantIdentity(act_quant=activation_quantizer(plan.setting(name), plan.percentile_of(name)))


def quant_linear(linear: nn.Linear, plan: Plan, name: str) -> nn.Module:
    quantized = QuantLinear(
        linear.in_features,
        linear.out_features,
        bias=True,
        weight_quant=weight_quantizer(plan.setting(name)),
        bias_quant=None,
    )
    quantized.load_state_dict(linear.state_dict())
    return quantized


def quantize_model(model: nn.Module, plan: Plan) -> nn.Module:
    """A quantized copy of `model` (its family's `quantize`), as `plan` says."""
    return family(model.kind).quantize(model, plan)
