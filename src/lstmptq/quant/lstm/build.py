"""The LSTM classifiers in Brevitas: QuantLSTM built from the cell's quantizer table, and its
integer weights and quantizers read back as the artifact stores them.

Known Brevitas trap handled here (shared notes): QuantLSTM's io quantizer would also quantize the
LSTM input with the hidden-state scale, so the input gets its own quantizer (`lstm_input`) and the
LSTM quantizes its output only, unless the scheme asks for exactly that (`xh`, the paper's code):
then `lstm_input` stays float and QuantLSTM quantizes x_t with its io quantizer."""

from __future__ import annotations

import copy

import brevitas.config
import torch
from brevitas.nn import QuantIdentity, QuantLSTM
from torch import nn

from lstmptq.quant.artifact import QuantizedWeight, write
from lstmptq.quant.build import (
    Plan,
    activation_quantizer,
    quant_activation,
    quant_embedding,
    weight_quantizer,
)
from lstmptq.quant.lstm.cell import CELL_QUANTIZERS, GATES, INPUT
from lstmptq.quant.state import activation_of, weight_of


def quant_lstm(lstm: nn.LSTM, plan: Plan, name: str = "lstm") -> nn.Module:
    if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first:
        raise ValueError("only single-layer, unidirectional, batch_first LSTMs are supported")

    quantizers = {}  # one Brevitas quantizer per QuantLSTM argument, from the cell's table
    for quantizer, entry in CELL_QUANTIZERS.items():
        built = (plan.setting(f"{name}.{quantizer}"), entry.signed, plan.percentile_of(f"{name}.{quantizer}"))
        if quantizers.setdefault(entry.argument, built) != built:
            raise ValueError(
                f"{entry.argument} builds quantizers of other settings ({quantizer}: {built}); give them one class"
            )
    quantized = QuantLSTM(
        lstm.input_size,
        lstm.hidden_size,
        batch_first=True,
        weight_quant=weight_quantizer(plan.setting(f"{name}.weight")),
        bias_quant=None,  # float biases, summed b_ih + b_hh (as Brevitas loads them)
        **{
            argument: activation_quantizer(setting, percentile, signed)
            for argument, (setting, signed, percentile) in quantizers.items()
        },
    )
    previous = brevitas.config.IGNORE_MISSING_KEYS
    brevitas.config.IGNORE_MISSING_KEYS = True  # the loader remaps nn.LSTM's keys per gate
    try:
        quantized.load_state_dict(lstm.state_dict())
    finally:
        brevitas.config.IGNORE_MISSING_KEYS = previous
    quantized.layers[0][0].quantize_output_only = not shares_io(plan)  # else the input has its own quantizer
    return quantized


def shares_io(plan: Plan) -> bool:
    """Whether the LSTM input x_t is quantized by QuantLSTM's io quantizer, with h_t (`xh`)."""
    return plan.setting(INPUT).shared == "h"


def quantize_lstm_body(model: nn.Module, plan: Plan) -> nn.Module:
    """A copy of an LSTM classifier with its shared part quantized (embedding, LSTM input, LSTM,
    head input); the family swaps its own head."""
    q = copy.deepcopy(model).cpu().eval()
    q.embedding = quant_embedding(model.embedding, plan, "embedding.weight")
    q.lstm_input = QuantIdentity(act_quant=None) if shares_io(plan) else quant_activation(plan, INPUT)
    q.lstm = quant_lstm(model.lstm, plan)
    q.head_input = quant_activation(plan, "head_input")
    return q


def lstm_tensors(quant_lstm: nn.Module, name: str) -> tuple[dict, dict, dict]:
    """A QuantLSTM's (weights, floats, activations) as the artifact stores them, under `name`:
    per-gate integer weights (or float ones) stacked in nn.LSTM's gate order, the summed float
    bias, and every cell quantizer (`<name>.<quantizer>`, None where float)."""

    def stacked(parts: list) -> QuantizedWeight | torch.Tensor:
        if all(isinstance(p, torch.Tensor) for p in parts):  # float weights
            return torch.cat(parts)
        if len({(p.bits, p.narrow) for p in parts}) != 1:
            raise ValueError("LSTM gates quantized at different bit widths or ranges")
        return QuantizedWeight(
            torch.cat([p.integers for p in parts]), torch.cat([p.scale for p in parts]), parts[0].bits, parts[0].narrow
        )

    layer = quant_lstm.layers[0][0]
    gates = [getattr(layer, f"{gate}_gate_params") for gate in GATES]
    weights = {
        f"{name}.weight_ih": stacked([weight_of(g.input_weight) for g in gates]),
        f"{name}.weight_hh": stacked([weight_of(g.hidden_weight) for g in gates]),
    }
    floats = {f"{name}.bias": torch.cat([g.bias.detach() for g in gates])}
    activations = {f"{name}.{q}": activation_of(getattr(layer.cell, f"{q}_quant")) for q in CELL_QUANTIZERS}
    return weights, floats, activations


def lstm_gate_matrix(quant_lstm: nn.Module) -> tuple[torch.Tensor, QuantizedWeight | None]:
    """A QuantLSTM's [W_ih | W_hh], gate rows in nn.LSTM's order: its float weights (4H, E + H),
    and the same as Brevitas quantizes them (integers, a scale per gate or per row; None where
    the scheme keeps them float)."""
    layer = quant_lstm.layers[0][0]
    gates = [getattr(layer, f"{gate}_gate_params") for gate in GATES]
    weight = torch.cat([torch.cat([g.input_weight.weight, g.hidden_weight.weight], 1) for g in gates]).detach()
    weights, _, _ = lstm_tensors(quant_lstm, "lstm")
    ih, hh = weights["lstm.weight_ih"], weights["lstm.weight_hh"]
    if isinstance(ih, torch.Tensor):
        return weight, None
    return weight, QuantizedWeight(torch.cat([ih.integers, hh.integers], 1), ih.scale, ih.bits, ih.narrow)


def export_lstm_artifact(
    model: nn.Module, path, header: dict, head: str, weights: dict | None = None, floats: dict | None = None
) -> int:
    """Write a calibrated LSTM classifier as a Brevitas-free artifact (lstmptq.quant.artifact); returns bytes.
    `head` is the final linear layer; a family adds its own `weights` and `floats`.

    Everything is read through Brevitas' own accessors (integer weights, scales, bit widths,
    signedness), so the artifact holds what Brevitas computes, not a re-derivation of it.
    """
    lstm_weights, lstm_floats, lstm_activations = lstm_tensors(model.lstm, "lstm")
    all_weights = {
        "embedding.weight": weight_of(model.embedding),
        **lstm_weights,
        f"{head}.weight": weight_of(getattr(model, head)),
        **(weights or {}),
    }
    all_floats = {**lstm_floats, f"{head}.bias": getattr(model, head).bias.detach(), **(floats or {})}
    layer = model.lstm.layers[0][0]
    activations = {  # x_t by its own quantizer, or by QuantLSTM's io quantizer where the two are one
        INPUT: activation_of(layer.io_quant if not layer.quantize_output_only else model.lstm_input.act_quant),
        **lstm_activations,
        "head_input": activation_of(model.head_input.act_quant),
    }
    return write(path, {"kind": model.kind, **header}, all_weights, all_floats, activations)
