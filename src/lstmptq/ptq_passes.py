"""Plain-PyTorch passes that stand in for Brevitas' own forward passes over the big sets.

Brevitas runs QuantLSTM one timestep at a time through Python-level quantizers (about 40x
nn.LSTM), and a PTQ cell used to run it over the whole calibration subset twice (calibration,
GPFQ) and the whole test set twice (measure, verify). Here the same numbers come from cheap passes:

- `thresholds`: the activation thresholds Brevitas' `calibration_mode` would store, from a float
  pass that makes the same quantizer calls in the same order (docs/brevitas-quantlstm-numerics.md
  section 1: the running mean of per-call |x| percentiles, every cell quantizer once per timestep,
  the cell state three times); `quant.set_thresholds` hands them to Brevitas.
- `final_layer_inputs`: the two inputs GPFQ collects for the final layer per calibration batch:
  with quantization on (the engine's arithmetic), and with quantization "off" as Brevitas'
  `quantization_status_manager` leaves it: float weights and no QuantIdentity, but QuantLSTM's
  cell quantizers still active (they are called directly, so the switch does not reach them).

Both work on a copy of the quantized model whose Brevitas layers are swapped for plain ones, so
the model's own forward decides which quantization points run and how often. Tests check both
against Brevitas (equal thresholds, equal GPFQ weights); a family with a Brevitas layer not
handled here falls back to Brevitas' own passes (`supported`).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .quant import CELL_QUANTIZERS, GATES, THRESHOLD_KEY

LSTM_CELL = "layers.0.0.cell"  # where QuantLSTM's cell quantizers live, under the LSTM's name


class Stop(Exception):
    """Ends a forward pass once the final layer's input is captured."""


class Observer(nn.Module):
    """An observing quantizer: the identity, recording a scale statistic of what it sees
    (`observe`), from which `threshold` gives the clipping threshold for a quantizer of `bits`
    and signedness (None: it saw nothing)."""

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

    def __init__(self, percentile: float):
        super().__init__()
        self.percentile = percentile
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

    def __init__(self):
        super().__init__()
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

    def __init__(self, capacity: int = 2**20, candidates: int = 64):
        super().__init__()
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
        from .artifact import activation_range

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
        fine = torch.linspace(float(coarse[max(best - 1, 0)]) if best else top / self.candidates**2, float(coarse[min(best + 1, len(coarse) - 1)]), self.candidates)
        candidates = torch.cat([coarse, fine])
        return candidates[int(errors(candidates).argmin())].to(torch.float32).reshape(())


class Fixed(Observer):
    """Statistic `k`: the analytic threshold 1 of a sigmoid ([0, 1]) or tanh ([-1, 1]) output."""

    def observe(self, x: torch.Tensor) -> None:
        pass  # nothing to learn

    def threshold(self, bits: int, signed: bool) -> torch.Tensor | None:
        return torch.ones((), dtype=torch.float32)


def observer(statistic: str, percentile: float) -> Observer:
    """The observing quantizer of a scale statistic (scheme.STATISTICS)."""
    return {"p": lambda: RunningPercentile(percentile), "m": PooledMax, "e": PooledMSE, "k": Fixed}[statistic]()


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
        self.observers = nn.ModuleDict(observers)  # one per CELL_QUANTIZERS

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        seen = self.observers
        batch, steps, _ = x.shape
        h = x.new_zeros(batch, self.weight_hh[0].size(1))
        c = torch.zeros_like(h)
        outputs = []
        for t in range(steps):
            acc = [(F.linear(x[:, t], wi) + F.linear(h, wh)) + b for wi, wh, b in zip(self.weight_ih, self.weight_hh, self.bias)]
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


class Capture(nn.Module):
    """Stands in for the final layer: keeps its input and stops the forward pass."""

    def forward(self, x: torch.Tensor):
        self.input = x.detach()
        raise Stop


def _brevitas_types():
    from brevitas.nn import QuantEmbedding, QuantIdentity, QuantLinear, QuantLSTM

    return QuantEmbedding, QuantIdentity, QuantLinear, QuantLSTM


def supported(qmodel: nn.Module) -> bool:
    """Whether these passes can stand in for Brevitas' on `qmodel`: each Brevitas layer is a
    top-level child of a kind handled here (a one-layer QuantLSTM, QuantEmbedding, QuantLinear,
    QuantIdentity), and no other child holds one."""
    known = _brevitas_types()
    for child in qmodel.children():
        if isinstance(child, known[3]):
            if len(child.layers) != 1 or len(child.layers[0]) != 1:
                return False
        elif not isinstance(child, known) and any(type(m).__module__.startswith("brevitas") for m in child.modules()):
            return False
    return True


def _swapped(qmodel: nn.Module, replace) -> nn.Module:
    """A shallow copy of `qmodel` whose top-level Brevitas layers are `replace(name, module)`;
    parameters are shared, not copied."""
    plain = copy.copy(qmodel)
    plain._modules = dict(qmodel._modules)
    for name, module in qmodel.named_children():
        replacement = replace(name, module)
        if replacement is not None:
            setattr(plain, name, replacement)
    return plain.eval()


def _float_layer(module: nn.Module, quantized: bool) -> nn.Module | None:
    """A Brevitas embedding or linear layer as a plain one, its weights quantized or float."""
    QuantEmbedding, _, QuantLinear, _ = _brevitas_types()
    if not isinstance(module, (QuantEmbedding, QuantLinear)):
        return None
    weight = (_quantized_value(module) if quantized else module.weight).detach()
    if isinstance(module, QuantEmbedding):
        return nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=module.padding_idx)
    plain = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    plain.weight.data, plain.bias.data = weight, module.bias.detach()
    return plain


def _quantized_value(module: nn.Module) -> torch.Tensor:
    """A Brevitas layer's weight as its forward uses it (a float layer's is its plain weight)."""
    weight = module.quant_weight()
    return getattr(weight, "value", weight)


@torch.no_grad()
def thresholds(qmodel: nn.Module, batches, plan) -> dict[str, torch.Tensor]:
    """The activation thresholds (Brevitas state_dict keys) of `qmodel`'s quantizers, each by its
    scheme statistic (quant.Plan): for `p`, exactly what `quant.calibrate(qmodel, batches)` would
    store. Runs the model's `calibration_pass` where it has one (the quantizer calls of
    `class_scores` without the output layer), else `class_scores`."""
    from .quant import activation_spec

    _, QuantIdentity, _, QuantLSTM = _brevitas_types()
    observers: dict[str, tuple[Observer, object]] = {}  # state_dict prefix -> (observer, Brevitas proxy)

    def watch(key: str, name: str, proxy) -> Observer:
        watcher = observer(plan.setting(name).statistic, plan.percentile)
        observers[key] = (watcher, proxy)
        return watcher

    def replace(name, module):
        if isinstance(module, QuantIdentity):
            return watch(f"{name}.act_quant", name, module.act_quant)
        if isinstance(module, QuantLSTM):
            cell = module.layers[0][0].cell
            lstm = ObservingLSTM(module, {q: watch(f"{name}.{LSTM_CELL}.{q}_quant", f"{name}.{q}", getattr(cell, f"{q}_quant")) for q in CELL_QUANTIZERS})
            observers[f"{name}.layers.0.0.io_quant"] = observers[f"{name}.{LSTM_CELL}.output_quant"]  # one module, two keys
            return lstm
        return _float_layer(module, quantized=False)

    plain = _swapped(qmodel, replace)
    run = getattr(plain, "calibration_pass", plain.class_scores)
    for ids, lengths in batches:
        run(ids, lengths)
    out = {}
    for key, (watcher, proxy) in observers.items():
        spec = activation_spec(proxy)
        value = None if spec is None else watcher.threshold(*spec)
        if value is not None:  # float quantizers, and ones never called, keep no threshold
            out[key + THRESHOLD_KEY] = value
    return out


def _engine_lstm(quant_lstm: nn.Module, float_weights: bool) -> nn.Module:
    from .artifact import Artifact
    from .engine import QuantizedLSTM
    from .quant import lstm_tensors

    weights, floats, activations = lstm_tensors(quant_lstm, "lstm")
    lstm = QuantizedLSTM(Artifact.assemble(None, {}, weights, floats, activations))
    if float_weights:
        lstm.use_float_weights(quant_lstm)
    return lstm


@torch.no_grad()
def final_layer_inputs(qmodel: nn.Module, layer_name: str, batches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per batch, the (quantized, "float") inputs of the final layer `layer_name` that GPFQ
    collects with the model's forward (see the module docstring for what "float" means)."""
    from .engine import FakeQuant
    from .quant import activation_of

    _, QuantIdentity, _, QuantLSTM = _brevitas_types()

    def plain_model(quantized: bool) -> nn.Module:
        def replace(name, module):
            if name == layer_name:
                return Capture()
            if isinstance(module, QuantIdentity):
                return FakeQuant(*(activation_of(module.act_quant) or ())) if quantized else nn.Identity()  # () -> a float point
            if isinstance(module, QuantLSTM):
                return _EngineLSTM(_engine_lstm(module, float_weights=not quantized))
            return _float_layer(module, quantized)

        return _swapped(qmodel, replace)

    pairs = []
    models = plain_model(quantized=True), plain_model(quantized=False)
    for ids, lengths in batches:
        captured = []
        for model in models:
            try:
                model(ids, lengths)
            except Stop:
                captured.append(getattr(model, layer_name).input)
            else:
                raise RuntimeError(f"the forward pass never reached {layer_name!r}")
        pairs.append(tuple(captured))
    return pairs


class _EngineLSTM(nn.Module):
    """The engine's LSTM with nn.LSTM's call signature (output, state)."""

    def __init__(self, lstm: nn.Module):
        super().__init__()
        self.lstm = lstm

    def forward(self, x):
        return self.lstm(x), None


class Replay(nn.Module):
    """The final layer fed recorded inputs: the quantized one while quantization is on, the
    float one while Brevitas switches it off (how GPFQ's two passes see it)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, quantized: torch.Tensor, floating: torch.Tensor) -> torch.Tensor:
        return self.layer(quantized if self.layer.weight_quant.is_quant_enabled else floating)


def incremental_gpfq():
    """Brevitas' GPFQ with a cheaper inner loop, for a linear layer whose weight quantizer is
    signed, narrow-range and per-tensor with a max-|W| scale (else Brevitas' own loop runs).

    At each of its C column steps Brevitas re-quantizes the whole (out, C) weight, because the
    column it has just finished changes the weight and may change the scale. With a max-|W| scale
    only a new maximum can: here the finished column is quantized alone, with the current scale,
    and the whole weight again (by Brevitas) only when its maximum moved. Every other operation is
    Brevitas' own, in its order, so the weights are the same bit for bit (tests/test_ptq_passes.py)."""
    from brevitas.core.stats import StatsOp
    from brevitas.graph.gpfq import GPFQ

    from .artifact import weight_range

    class IncrementalGPFQ(GPFQ):
        def single_layer_update(self):
            layer = self.layer
            spec = layer.weight_quant.quant_injector
            quantized = layer.quant_weight()
            if self.groups != 1 or self.act_order or quantized.scale.numel() != 1 or not (spec.scaling_stats_op == StatsOp.MAX and spec.signed and spec.narrow_range):
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


class _RecordingLSTM(nn.Module):
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
        raise Stop


@torch.no_grad()
def lstm_gate_inputs(qmodel: nn.Module, batches, columns: int, fp32_weights: dict[str, torch.Tensor] | None = None):
    """The LSTM gates' inputs [x_t ; h_{t-1}] over the calibration batches, in the FP32 model
    (float weights, no quantizer) and in the quantized model as it stands (its LSTM run by the
    engine), as Gram statistics for recurrent_gpfq. Each quantized sample follows the quantized
    model's own trajectory: h~_{t-1} comes from the quantized LSTM, as at inference. The FP32
    LSTM's weights are the Brevitas layer's float ones, i.e. FP32 until a method rounds them in
    place; `fp32_weights` (`lstm.weight_ih`, `lstm.weight_hh`) gives them after that."""
    from .artifact import Artifact
    from .engine import FakeQuant, QuantizedLSTM
    from .quant import activation_of, lstm_gate_matrix, lstm_tensors
    from .recurrent_gpfq import GramStatistics

    _, QuantIdentity, _, QuantLSTM = _brevitas_types()
    _, floats, _ = lstm_tensors(qmodel.lstm, "lstm")
    weight, _ = lstm_gate_matrix(qmodel.lstm)
    w_ih, w_hh = weight.split([weight.shape[1] - weight.shape[0] // len(GATES), weight.shape[0] // len(GATES)], 1)
    float_weights = fp32_weights or {"lstm.weight_ih": w_ih, "lstm.weight_hh": w_hh}
    lstms = {
        "float": QuantizedLSTM(Artifact.assemble(None, {}, float_weights, floats, {})),
        "quantized": _engine_lstm(qmodel.lstm, float_weights=False),
    }
    statistics = GramStatistics(columns)
    for ids, lengths in batches:
        captured = {}
        for mode, lstm in lstms.items():

            def replace(name, module, mode=mode, lstm=lstm):
                if isinstance(module, QuantLSTM):
                    return _RecordingLSTM(lstm, lengths, ids.size(1))
                if isinstance(module, QuantIdentity):
                    return FakeQuant(*(activation_of(module.act_quant) or ())) if mode == "quantized" else nn.Identity()
                return _float_layer(module, quantized=mode == "quantized")

            plain = _swapped(qmodel, replace)
            try:
                plain.class_scores(ids, lengths)
            except Stop:
                captured[mode] = plain.lstm.inputs
            else:
                raise RuntimeError("the forward pass never reached the LSTM")
        statistics.add(captured["float"], captured["quantized"])
    return statistics
