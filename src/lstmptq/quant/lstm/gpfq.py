"""PTQ method `gpfq_lstm`: GPFQ on the LSTM's own weights (lstmptq.quant.lstm.recurrent_gpfq),
fed the gate inputs [x_t ; h_{t-1}] of the FP32 and the quantized trajectories."""

from __future__ import annotations

import logging

import torch
from brevitas.nn import QuantLSTM
from torch import nn

from lstmptq.quant import passes
from lstmptq.quant.artifact import Artifact, QuantizedWeight
from lstmptq.quant.lstm import recurrent_gpfq
from lstmptq.quant.lstm.build import lstm_gate_matrix, lstm_tensors
from lstmptq.quant.lstm.cell import GATES
from lstmptq.quant.lstm.engine import QuantizedLSTM
from lstmptq.quant.lstm.passes import engine_lstm
from lstmptq.quant.methods import apply_gpfq

log = logging.getLogger(__name__)


@torch.no_grad()
def apply_gpfq_lstm(model: nn.Module, family, batches) -> None:
    """PTQ method `gpfq_lstm`: GPFQ on the LSTM's own weights, then on the final layer (`gpfq`).

    Per gate row, [W_ih | W_hh] is one row of a (4H, E + H) matrix whose inputs are [x_t ; h_{t-1}]
    (recurrent_gpfq; docs/recurrent-gpfq.md): float inputs from the FP32 model, quantized ones
    from the quantized model with its nearest-rounded LSTM (lstm_gate_inputs). The
    scales stay those of nearest rounding: the entry that sets each scale (the max |w| of a
    gate, or of a row with per-row scales) is pinned to its rounding, so the max-|W| scale
    Brevitas re-derives from the new weights is unchanged (checked below)."""
    weight, quantized = lstm_gate_matrix(model.lstm)
    if quantized is None:
        log.info("GPFQ on the LSTM: its weights stay float in this scheme; nothing to round")
    elif not quantized.narrow:
        raise ValueError(
            "PTQ method gpfq_lstm rounds to narrow-range integers; its scheme's full-range weights (`u`) "
            "are not supported: use gpfq or plain with them"
        )
    elif not model.lstm.layers[0][0].quantize_output_only:
        raise ValueError(
            "PTQ method gpfq_lstm needs the LSTM input on a quantizer of its own; its scheme's `xh` (x_t on "
            "h_t's quantizer) is not supported: use gpfq or plain with it"
        )
    else:
        groups = quantized.scale.numel()  # one max-|W| scale per gate, or per row
        scale = quantized.scale.repeat_interleave(weight.shape[0] // groups)
        flat = weight.abs().reshape(groups, -1)
        pinned = (
            torch.zeros_like(flat, dtype=torch.bool)
            .scatter_(1, flat.argmax(1, keepdim=True), True)
            .reshape(weight.shape)
        )
        statistics = lstm_gate_inputs(model, batches, weight.shape[1])
        integers = recurrent_gpfq.gpfq(weight, statistics.H, statistics.G, scale, quantized.bits, pinned)
        rounded = QuantizedWeight(integers, quantized.scale, quantized.bits).dequantized()
        layer = model.lstm.layers[0][0]
        inputs = layer.input_gate_params.input_weight.weight.shape[1]
        for gate, value in zip(GATES, rounded.split(weight.shape[0] // len(GATES))):
            params = getattr(layer, f"{gate}_gate_params")
            params.input_weight.weight.data.copy_(value[:, :inputs])
            params.hidden_weight.weight.data.copy_(value[:, inputs:])
        if not torch.equal(lstm_gate_matrix(model.lstm)[1].integers, integers):
            raise RuntimeError(
                "GPFQ on the LSTM: Brevitas re-derives other integers from the rounded weights (a scale moved)"
            )
        log.info(
            "GPFQ on the LSTM: %d of %d weights rounded otherwise than to nearest, from %d gate inputs",
            int((integers != quantized.integers).sum()),
            integers.numel(),
            statistics.samples,
        )
    apply_gpfq(model, family, batches)  # then the final layer, as `gpfq`


class RecordingLSTM(nn.Module):
    """Stands in for the LSTM: runs `lstm` on its input, keeps the gate inputs [x_t ; h_{t-1}] of
    every real position, and stops the forward (nothing after the LSTM is needed)."""

    def __init__(self, lstm: nn.Module, lengths: torch.Tensor, total: int):
        super().__init__()
        self.lstm, self.lengths, self.total = lstm, lengths, total

    def forward(self, x: torch.Tensor):
        hidden = self.lstm(x)
        previous = torch.cat([hidden.new_zeros(hidden.size(0), 1, hidden.size(2)), hidden[:, :-1]], 1)  # h_{-1} = 0
        real = self.lengths - (self.total - x.size(1))  # the generative LSTM reads one position fewer
        mask = torch.arange(x.size(1))[None, :] < real[:, None]
        self.inputs = torch.cat([x, previous], 2)[mask]
        raise passes.Stop


@torch.no_grad()
def lstm_gate_inputs(qmodel: nn.Module, batches, columns: int, fp32_weights: dict[str, torch.Tensor] | None = None):
    """The LSTM gates' inputs [x_t ; h_{t-1}] over the calibration batches, in the FP32 model
    (float weights, no quantizer) and in the quantized model as it stands (its LSTM run by the
    engine), as Gram statistics for recurrent_gpfq. Each quantized sample follows the quantized
    model's own trajectory: h~_{t-1} comes from the quantized LSTM, as at inference. The FP32
    LSTM's weights are the Brevitas layer's float ones, i.e. FP32 until a method rounds them in
    place; `fp32_weights` (`lstm.weight_ih`, `lstm.weight_hh`) gives them after that."""
    _, floats, _ = lstm_tensors(qmodel.lstm, "lstm")
    weight, _ = lstm_gate_matrix(qmodel.lstm)
    w_ih, w_hh = weight.split([weight.shape[1] - weight.shape[0] // len(GATES), weight.shape[0] // len(GATES)], 1)
    float_weights = fp32_weights or {"lstm.weight_ih": w_ih, "lstm.weight_hh": w_hh}
    lstms = {
        "float": QuantizedLSTM(Artifact.assemble(None, {}, float_weights, floats, {})),
        "quantized": engine_lstm(qmodel.lstm, float_weights=False),
    }
    statistics = recurrent_gpfq.GramStatistics(columns)
    for ids, lengths in batches:
        captured = {}
        for mode, lstm in lstms.items():

            def replace(name, module, mode=mode, lstm=lstm):
                if isinstance(module, QuantLSTM):
                    return RecordingLSTM(lstm, lengths, ids.size(1))
                return passes.plain_layer(module, quantized=mode == "quantized")

            plain = passes.swapped(qmodel, replace)
            try:
                plain.class_scores(ids, lengths)
            except passes.Stop:
                captured[mode] = plain.lstm.inputs
            else:
                raise RuntimeError("the forward pass never reached the LSTM")
        statistics.add(captured["float"], captured["quantized"])
    return statistics
