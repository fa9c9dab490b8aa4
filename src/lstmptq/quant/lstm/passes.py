"""QuantLSTM in the plain-PyTorch passes (lstmptq.quant.passes.LAYER_PASSES): observed in the
float statistics pass, run by the engine in GPFQ's input pass."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lstmptq.quant.artifact import Artifact
from lstmptq.quant.lstm.build import lstm_tensors
from lstmptq.quant.lstm.cell import CELL_QUANTIZERS, GATES
from lstmptq.quant.lstm.engine import QuantizedLSTM
from lstmptq.quant.observers import Observer

CELL = "layers.0.0.cell"  # where QuantLSTM's cell quantizers live, under the LSTM's name


def supported(quant_lstm: nn.Module) -> bool:
    """One layer, one direction: what ObservingLSTM and the engine reproduce."""
    return len(quant_lstm.layers) == 1 and len(quant_lstm.layers[0]) == 1


def observing(name: str, quant_lstm: nn.Module, watchers) -> nn.Module:
    """The float LSTM of the statistics pass, every cell quantizer observed (passes.Watchers)."""
    cell = quant_lstm.layers[0][0].cell
    observers = {
        q: watchers.watch(f"{name}.{CELL}.{q}_quant", f"{name}.{q}", getattr(cell, f"{q}_quant"))
        for q in CELL_QUANTIZERS
    }
    watchers.alias(f"{name}.layers.0.0.io_quant", of=f"{name}.{CELL}.output_quant")  # one module, two keys
    return ObservingLSTM(quant_lstm, observers)


def shares_io(quant_lstm: nn.Module) -> bool:
    """Whether QuantLSTM quantizes its input x_t too, with its io (= output) quantizer (`xh`)."""
    return not quant_lstm.layers[0][0].quantize_output_only


def running(quant_lstm: nn.Module, quantized: bool) -> nn.Module:
    """The LSTM as GPFQ's passes see it: the engine's, with quantized weights, or with float
    weights and its cell quantizers still on (Brevitas' "quantization off"). An io quantizer that
    also quantizes x_t (`xh`) is a layer-level proxy: Brevitas' switch reaches it there, not in
    the cell, so x_t is quantized only while quantization is on."""
    lstm = engine_lstm(quant_lstm, float_weights=not quantized)
    return EngineLSTM(lstm, lstm.output if quantized and shares_io(quant_lstm) else nn.Identity())


class ObservingLSTM(nn.Module):
    """A float LSTM (one layer, batch_first, zero initial state) that observes every QuantLSTM
    cell quantizer as Brevitas' calibration mode does: per timestep, per gate
    (x W_ih^T + h W_hh^T) + b, in Brevitas' operand and addition order."""

    def __init__(self, quant_lstm: nn.Module, observers: dict[str, Observer]):
        super().__init__()
        layer = quant_lstm.layers[0][0]
        gates = [getattr(layer, f"{gate}_gate_params") for gate in GATES]
        self.weight_ih = [g.input_weight.weight.detach() for g in gates]
        self.weight_hh = [g.hidden_weight.weight.detach() for g in gates]
        self.bias = [g.bias.detach() for g in gates]
        self.observers = nn.ModuleDict(observers)  # one per cell.CELL_QUANTIZERS
        self.observes_input = shares_io(quant_lstm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        seen = self.observers
        if self.observes_input:  # Brevitas quantizes the whole input before the first step
            seen["output"].observe(x)
        batch, steps, _ = x.shape
        h = x.new_zeros(batch, self.weight_hh[0].size(1))
        c = torch.zeros_like(h)
        outputs = []
        for t in range(steps):
            acc = [
                (F.linear(x[:, t], wi) + F.linear(h, wh)) + b
                for wi, wh, b in zip(self.weight_ih, self.weight_hh, self.bias)
            ]
            for gate, value in zip(GATES, acc):
                seen[f"{gate}_acc"].observe(value)
            i = seen["input_sigmoid"](torch.sigmoid(acc[0]))
            f = seen["forget_sigmoid"](torch.sigmoid(acc[1]))
            g = seen["cell_tanh"](torch.tanh(acc[2]))
            o = seen["output_sigmoid"](torch.sigmoid(acc[3]))
            c = seen["cell_state"](seen["cell_state"](f * c) + seen["cell_state"](i * g))
            h = seen["output"](o * seen["hidden_state_tanh"](torch.tanh(c)))
            outputs.append(h)
        return torch.stack(outputs, 1), None


def engine_lstm(quant_lstm: nn.Module, float_weights: bool) -> nn.Module:
    weights, floats, activations = lstm_tensors(quant_lstm, "lstm")
    lstm = QuantizedLSTM(Artifact.assemble(None, {}, weights, floats, activations))
    if float_weights:
        lstm.use_float_weights(quant_lstm)
    return lstm


class EngineLSTM(nn.Module):
    """The engine's LSTM with nn.LSTM's call signature (output, state), its input quantized by
    `input_quant` first."""

    def __init__(self, lstm: nn.Module, input_quant: nn.Module):
        super().__init__()
        self.lstm, self.input_quant = lstm, input_quant

    def forward(self, x):
        return self.lstm(self.input_quant(x)), None
