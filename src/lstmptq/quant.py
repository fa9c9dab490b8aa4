"""Brevitas post-training quantization: the only module importing brevitas (families build with its helpers).

The FP32 models expose their layers and identity quantization points (`lstm_input`,
`head_input`); a family's `quantize` swaps each for its Brevitas counterpart with the helpers
here, so the quantized model runs the FP32 model's own forward. A `Plan` (a scheme from
lstmptq.scheme, the percentile, a stage kept at 8 bits) gives each quantizer, by its artifact
name, its setting. Symmetric quantizers throughout:

- weights: max-|W| scale, narrow range (b bits -> integers in +-(2^(b-1) - 1)), one scale per
  tensor (per gate for the LSTM: Brevitas shares it between W_ih and W_hh) or per output row;
- activations: one scale per tensor, its threshold set by calibration (ptq_passes.thresholds:
  the scheme's statistic), signed, or unsigned for sigmoid outputs;
- a float setting leaves that quantizer out (Brevitas' `None`).

Stages (a method may keep one at 8 bits, scheme.stage_of):
- ``embedding``: token (and label) embedding weights and the LSTM input activation;
- ``lstm``: LSTM weights, gate accumulators, sigmoid/tanh outputs, cell state, hidden state;
- ``head``: the final layer's input activation and weights.

Known Brevitas traps handled here (see shared notes): QuantLSTM's io quantizer would also
quantize the LSTM input with the hidden-state scale, so the input gets its own quantizer and
the LSTM quantizes its output only; `quantization_status_manager` does not reach QuantLSTM's
internal quantizers, so `float_reference` runs a copy in calibration mode; GPFQ stops the
forward at the first decoder call, so the generative model feeds it every label in one call.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .scheme import Scheme, Setting, class_of, parse, stage_of
from .scheme import uniform as uniform_scheme

if TYPE_CHECKING:
    from .artifact import QuantizedWeight

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What to build: a scheme (lstmptq.scheme), the percentile of its `p` statistic, and a stage
    kept at 8 bits (a `-<stage>8` method, or None)."""

    scheme: Scheme
    percentile: float
    keep_8bit: str | None = None

    @classmethod
    def uniform(cls, bits: int, percentile: float = 99.99) -> Plan:
        """The paper's setting: everything at `bits`."""
        return cls(parse(uniform_scheme(bits)), percentile)

    def setting(self, quantizer: str) -> Setting:
        """The setting of a quantizer named as in the artifact (`lstm.cell_state`, `classifier.weight`)."""
        setting = self.scheme.settings[class_of(quantizer)]
        return replace(setting, bits=8) if stage_of(quantizer) == self.keep_8bit else setting

    def describe(self) -> dict[str, Any]:
        return {"scheme": self.scheme.name, "percentile": self.percentile, "keep_8bit": self.keep_8bit}


def weight_quantizer(setting: Setting, per_row_allowed: bool = True):
    """Brevitas weight quantizer of a setting: max-|W| scale, narrow range, per tensor or per
    output row; None (float) for a float setting."""
    from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat

    if not setting.quantized:
        return None
    base = Int8WeightPerChannelFloat if setting.per_row and per_row_allowed else Int8WeightPerTensorFloat
    return base.let(bit_width=setting.bits)


def activation_quantizer(setting: Setting, percentile: float, signed: bool = True):
    """Brevitas activation quantizer of a setting (its threshold set by calibration); None for float."""
    from brevitas.quant import Int8ActPerTensorFloat, Uint8ActPerTensorFloat

    if not setting.quantized:
        return None
    return (Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat).let(bit_width=setting.bits, high_percentile_q=percentile)


def quant_embedding(embedding: nn.Embedding, plan: Plan, name: str) -> nn.Module:
    """An embedding quantized as `name` says (per tensor always: a row is a token, not a channel)."""
    from brevitas.nn import QuantEmbedding

    quantizer = weight_quantizer(plan.setting(name), per_row_allowed=False)
    quantized = QuantEmbedding(embedding.num_embeddings, embedding.embedding_dim, padding_idx=embedding.padding_idx, weight_quant=quantizer)
    quantized.weight.data.copy_(embedding.weight.data)
    return quantized


def quant_activation(plan: Plan, name: str) -> nn.Module:
    from brevitas.nn import QuantIdentity

    return QuantIdentity(act_quant=activation_quantizer(plan.setting(name), plan.percentile))


def quant_lstm(lstm: nn.LSTM, plan: Plan, name: str = "lstm") -> nn.Module:
    import brevitas.config
    from brevitas.nn import QuantLSTM

    if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first:
        raise ValueError("only single-layer, unidirectional, batch_first LSTMs are supported")

    def act(quantizer: str, signed: bool = True):
        return activation_quantizer(plan.setting(f"{name}.{quantizer}"), plan.percentile, signed)

    quantized = QuantLSTM(
        lstm.input_size,
        lstm.hidden_size,
        batch_first=True,
        weight_quant=weight_quantizer(plan.setting(f"{name}.weight")),
        bias_quant=None,  # float biases, summed b_ih + b_hh (as Brevitas loads them)
        io_quant=act("output"),
        gate_acc_quant=act("input_acc"),
        sigmoid_quant=act("input_sigmoid", signed=False),
        tanh_quant=act("cell_tanh"),
        cell_state_quant=act("cell_state"),
    )
    previous = brevitas.config.IGNORE_MISSING_KEYS
    brevitas.config.IGNORE_MISSING_KEYS = True  # the loader remaps nn.LSTM's keys per gate
    try:
        quantized.load_state_dict(lstm.state_dict())
    finally:
        brevitas.config.IGNORE_MISSING_KEYS = previous
    quantized.layers[0][0].quantize_output_only = True  # the input has its own quantizer
    return quantized


def quant_linear(linear: nn.Linear, plan: Plan, name: str) -> nn.Module:
    from brevitas.nn import QuantLinear

    quantized = QuantLinear(linear.in_features, linear.out_features, bias=True, weight_quant=weight_quantizer(plan.setting(name)), bias_quant=None)
    quantized.load_state_dict(linear.state_dict())
    return quantized


def quantize_model(model: nn.Module, plan: Plan) -> nn.Module:
    """A quantized copy of `model` (its family's `quantize`), as `plan` says."""
    from .registry import family

    return family(model.kind).quantize(model, plan)


def quantize_lstm_body(model: nn.Module, plan: Plan) -> nn.Module:
    """A copy of an LSTM classifier with its shared part quantized (embedding, LSTM input, LSTM,
    head input); the family swaps its own head."""
    q = copy.deepcopy(model).cpu().eval()
    q.embedding = quant_embedding(model.embedding, plan, "embedding.weight")
    q.lstm_input = quant_activation(plan, "lstm_input")
    q.lstm = quant_lstm(model.lstm, plan)
    q.head_input = quant_activation(plan, "head_input")
    return q


# ---------------------------------------------------------------------------------------
# calibration, GPFQ, float reference


@torch.no_grad()
def calibrate(model: nn.Module, batches) -> None:
    """Activation scales from the calibration batches (weights and biases unquantized meanwhile)."""
    from brevitas.graph.calibrate import calibration_mode

    with calibration_mode(model):
        for ids, lengths in batches:
            model.class_scores(ids, lengths)
    model.eval()


def nearest_rounding(model: nn.Module, family, batches) -> None:
    """PTQ method `plain`: weights stay rounded to nearest (nothing to do after calibration)."""


def set_thresholds(model: nn.Module, thresholds: dict[str, torch.Tensor]) -> None:
    """Calibrate `model` with given activation thresholds (state_dict keys, e.g. from
    ptq_passes.thresholds): loaded like a saved calibrated model, so Brevitas treats them as its own."""
    state = model.state_dict()
    model.load_state_dict({**state, **thresholds})
    model.eval()


@torch.no_grad()
def apply_gpfq(model: nn.Module, family, batches) -> None:
    """PTQ method `gpfq`: GPFQ on the family's final linear layer (`GPFQ_LAYER`, the only layer
    Brevitas' GPFQ handles here).

    Brevitas' GPFQ runs the model forward twice per batch (quantized, then with quantization
    off) to collect the layer's inputs; where ptq_passes can produce those inputs in plain
    PyTorch, GPFQ runs on the layer alone, fed them (the same weights result, tested)."""
    from brevitas.graph.gpfq import gpfq_mode

    from . import ptq_passes

    if not getattr(model, family.GPFQ_LAYER).weight_quant.is_quant_enabled:
        log.info("GPFQ: the final layer's weights stay float in this scheme; nothing to round")
        return
    if ptq_passes.supported(model):
        target = ptq_passes.Replay(getattr(model, family.GPFQ_LAYER))
        calls = ptq_passes.final_layer_inputs(model, family.GPFQ_LAYER, batches)
    else:
        target, calls = model, batches
    with gpfq_mode(target, use_quant_activations=True, algorithm_impl=ptq_passes.incremental_gpfq()) as gpfq:
        if gpfq.num_layers != 1:
            raise RuntimeError(f"GPFQ found {gpfq.num_layers} eligible layers, expected only the final one")
        for _ in range(gpfq.num_layers):
            for args in calls:
                gpfq.model(*args)  # drive the wrapped forward itself, or GPFQ is bypassed
            gpfq.update()
    layer = getattr(model, family.GPFQ_LAYER)
    if hasattr(layer, "weight_orig"):
        del layer.weight_orig  # a float copy GPFQ leaves behind
    model.eval()


@torch.no_grad()
def apply_gpfq_lstm(model: nn.Module, family, batches) -> None:
    """PTQ method `gpfq_lstm`: GPFQ on the LSTM's own weights, then on the final layer (`gpfq`).

    Per gate row, [W_ih | W_hh] is one row of a (4H, E + H) matrix whose inputs are [x_t ; h_{t-1}]
    (recurrent_gpfq; docs/recurrent-gpfq.md): float inputs from the FP32 model, quantized ones
    from the quantized model with its nearest-rounded LSTM (ptq_passes.lstm_gate_inputs). The
    scales stay those of nearest rounding: the entry that sets each scale (the max |w| of a
    gate, or of a row with per-row scales) is pinned to its rounding, so the max-|W| scale
    Brevitas re-derives from the new weights is unchanged (checked below)."""
    from . import ptq_passes, recurrent_gpfq
    from .artifact import QuantizedWeight

    weight, quantized = lstm_gate_matrix(model.lstm)
    if quantized is None:
        log.info("GPFQ on the LSTM: its weights stay float in this scheme; nothing to round")
    else:
        groups = quantized.scale.numel()  # one max-|W| scale per gate, or per row
        scale = quantized.scale.repeat_interleave(weight.shape[0] // groups)
        flat = weight.abs().reshape(groups, -1)
        pinned = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, flat.argmax(1, keepdim=True), True).reshape(weight.shape)
        statistics = ptq_passes.lstm_gate_inputs(model, batches, weight.shape[1])
        integers = recurrent_gpfq.gpfq(weight, statistics.H, statistics.G, scale, quantized.bits, pinned)
        rounded = QuantizedWeight(integers, quantized.scale, quantized.bits).dequantized()
        layer = model.lstm.layers[0][0]
        inputs = layer.input_gate_params.input_weight.weight.shape[1]
        for gate, value in zip(GATES, rounded.split(weight.shape[0] // len(GATES))):
            params = getattr(layer, f"{gate}_gate_params")
            params.input_weight.weight.data.copy_(value[:, :inputs])
            params.hidden_weight.weight.data.copy_(value[:, inputs:])
        if not torch.equal(lstm_gate_matrix(model.lstm)[1].integers, integers):
            raise RuntimeError("GPFQ on the LSTM: Brevitas re-derives other integers from the rounded weights (a scale moved)")
        log.info("GPFQ on the LSTM: %d of %d weights rounded otherwise than to nearest, from %d gate inputs", int((integers != quantized.integers).sum()), integers.numel(), statistics.samples)
    apply_gpfq(model, family, batches)


@contextlib.contextmanager
def float_reference(model: nn.Module) -> Iterator[nn.Module]:
    """The quantized graph with every quantizer off, QuantLSTM's internal ones included.

    `quantization_status_manager` does not reach QuantLSTM's internal quantizers (its cell calls
    them directly); calibration mode does, since it runs the float forward while observing.
    It runs on a throwaway copy so that the observed statistics never touch `model`.
    """
    from brevitas.graph.calibrate import calibration_mode

    reference = copy.deepcopy(model)
    with calibration_mode(reference), torch.no_grad():
        yield reference


def float_twin(model: nn.Module) -> nn.Module:
    """The FP32 model as its family's engine runs it (scheme `wf`: every weight and activation
    float, the same quantization points as identities): what diagnostics compares a quantized
    engine with, point by point."""
    import tempfile
    from pathlib import Path

    from . import engine
    from .registry import family

    wf = quantize_model(model, Plan(parse("wf"), 99.99))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "float.safetensors"
        family(model.kind).export(wf, path, {"scheme": "wf"})
        return engine.load(path, kind=model.kind).eval()


# ---------------------------------------------------------------------------------------
# what the quantized model is made of


def quantized_weights(model: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor, int]]:
    """Integer weights, scale(s) and bit width of every weight-quantized layer, by module name
    (layers whose weights stay float are left out)."""
    out = {}
    for name, module in model.named_modules():
        if callable(getattr(module, "quant_weight", None)) and isinstance(getattr(module, "weight", None), nn.Parameter):
            qw = module.quant_weight()
            if hasattr(qw, "scale"):  # a float layer's quant_weight is its plain weight
                out[name] = (qw.int().detach(), qw.scale.detach().reshape(-1), int(qw.bit_width))
    return out


THRESHOLD_KEY = ".fused_activation_quant_proxy.tensor_quant.scaling_impl.value"  # an activation threshold's state_dict suffix


def activation_thresholds(model: nn.Module) -> dict[str, float]:
    """Calibrated clipping threshold T of every activation quantizer (scale: T / 2^(b-1) signed, T / (2^b - 1) unsigned)."""
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


GATES = ("input", "forget", "cell", "output")  # nn.LSTM's row order: i, f, g, o
# QuantLSTM cell quantizers (attribute `<name>_quant` of its cell); `output` is h_t
CELL_QUANTIZERS = (
    "input_acc", "forget_acc", "cell_acc", "output_acc",
    "input_sigmoid", "forget_sigmoid", "output_sigmoid", "cell_tanh",
    "cell_state", "hidden_state_tanh", "output",
)  # fmt: skip


def weight_of(module) -> QuantizedWeight | torch.Tensor:
    """A weight-quantized layer's integers, scale(s) and bit width, from Brevitas' own accessors;
    a float layer's weight as it is."""
    from .artifact import QuantizedWeight

    qw = module.quant_weight()
    if not hasattr(qw, "scale"):
        return module.weight.detach()
    return QuantizedWeight(qw.int().detach().to(torch.int32), qw.scale.detach().reshape(-1), int(qw.bit_width))


def activation_spec(proxy) -> tuple[int, bool] | None:
    """An activation quantizer's bit width and signedness; None for a float one."""
    if not proxy.is_quant_enabled:
        return None
    return int(proxy.bit_width()), bool(proxy.is_signed)


def activation_of(proxy) -> tuple[torch.Tensor, int, bool] | None:
    """An activation quantizer's scale, bit width and signedness; None for a float one."""
    spec = activation_spec(proxy)
    return None if spec is None else (proxy.scale().detach(), *spec)


def lstm_tensors(quant_lstm: nn.Module, name: str) -> tuple[dict, dict, dict]:
    """A QuantLSTM's (weights, floats, activations) as the artifact stores them, under `name`:
    per-gate integer weights (or float ones) stacked in nn.LSTM's gate order, the summed float
    bias, and every cell quantizer (`<name>.<quantizer>`, None where float)."""
    from .artifact import QuantizedWeight

    def stacked(parts: list) -> QuantizedWeight | torch.Tensor:
        if all(isinstance(p, torch.Tensor) for p in parts):  # float weights
            return torch.cat(parts)
        if len({p.bits for p in parts}) != 1:
            raise ValueError("LSTM gates quantized at different bit widths")
        return QuantizedWeight(torch.cat([p.integers for p in parts]), torch.cat([p.scale for p in parts]), parts[0].bits)

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
    from .artifact import QuantizedWeight

    layer = quant_lstm.layers[0][0]
    gates = [getattr(layer, f"{gate}_gate_params") for gate in GATES]
    weight = torch.cat([torch.cat([g.input_weight.weight, g.hidden_weight.weight], 1) for g in gates]).detach()
    weights, _, _ = lstm_tensors(quant_lstm, "lstm")
    ih, hh = weights["lstm.weight_ih"], weights["lstm.weight_hh"]
    if isinstance(ih, torch.Tensor):
        return weight, None
    return weight, QuantizedWeight(torch.cat([ih.integers, hh.integers], 1), ih.scale, ih.bits)


def export_lstm_artifact(model: nn.Module, path, header: dict, head: str, weights: dict | None = None, floats: dict | None = None) -> int:
    """Write a calibrated LSTM classifier as a Brevitas-free artifact (see artifact.py); returns bytes.
    `head` is the final linear layer; a family adds its own `weights` and `floats`.

    Everything is read through Brevitas' own accessors (integer weights, scales, bit widths,
    signedness), so the artifact holds what Brevitas computes, not a re-derivation of it.
    """
    from .artifact import write

    lstm_weights, lstm_floats, lstm_activations = lstm_tensors(model.lstm, "lstm")
    all_weights = {"embedding.weight": weight_of(model.embedding), **lstm_weights, f"{head}.weight": weight_of(getattr(model, head)), **(weights or {})}
    all_floats = {**lstm_floats, f"{head}.bias": getattr(model, head).bias.detach(), **(floats or {})}
    activations = {"lstm_input": activation_of(model.lstm_input.act_quant), **lstm_activations, "head_input": activation_of(model.head_input.act_quant)}
    return write(path, {"kind": model.kind, **header}, all_weights, all_floats, activations)


QUANTIZED_FORMAT = 3  # 2: with a SHA-256 over settings and state; 3: a scheme instead of stage bits


def save_quantized(path, qmodel: nn.Module, fp32_meta: dict, plan: Plan, method: str) -> None:
    """A PTQ cell's calibrated Brevitas state (quantized.pt), with a checksum; `qmodel` on the CPU."""
    from .io import save_torch

    settings = {"fp32_meta": fp32_meta, "plan": plan.describe(), "method": method}
    save_torch(path, {"format": QUANTIZED_FORMAT, **settings, "state_dict": qmodel.state_dict()})


def load_quantized(model: nn.Module, path) -> tuple[nn.Module, dict]:
    """Rebuild a PTQ cell's calibrated model from its FP32 model and verified quantized.pt (no re-calibration)."""
    from .io import ResultFileError, load_torch

    payload = load_torch(path, QUANTIZED_FORMAT, "quantized model")
    try:
        plan = payload["plan"]
        qmodel = quantize_model(model, Plan(parse(plan["scheme"]), plan["percentile"], plan["keep_8bit"]))
        qmodel.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as err:  # intact, but not for this FP32 model or this code
        raise ResultFileError(path, f"does not fit this {model.kind} model ({err})") from err
    return qmodel.eval(), payload
