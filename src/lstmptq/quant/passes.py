"""Plain-PyTorch passes that stand in for Brevitas' own forward passes over the big sets.

Brevitas runs QuantLSTM one timestep at a time through Python-level quantizers (about 40x
nn.LSTM), and a PTQ cell used to run it over the whole calibration subset twice (calibration,
GPFQ) and the whole test set twice (measure, verify). Here the same numbers come from cheap passes:

- `thresholds`: the activation thresholds Brevitas' `calibration_mode` would store, from a float
  pass that makes the same quantizer calls in the same order (docs/brevitas-quantlstm-numerics.md
  section 1), each quantizer observed by its scheme statistic (lstmptq.quant.observers);
  `methods.set_thresholds` hands them to Brevitas.
- `final_layer_inputs`: the two inputs GPFQ collects for the final layer per calibration batch:
  with quantization on (the engine's arithmetic), and with quantization "off" as Brevitas'
  `quantization_status_manager` leaves it: float weights and no QuantIdentity, but QuantLSTM's
  cell quantizers still active (they are called directly, so the switch does not reach them).

Both work on a copy of the quantized model whose Brevitas layers are swapped for plain ones, so
the model's own forward decides which quantization points run and how often. Embeddings, linear
layers and identities are handled here; an architecture's own layers by its entry in
LAYER_PASSES (the LSTM's: lstmptq.quant.lstm.passes). Tests check both passes against Brevitas
(equal thresholds, equal GPFQ weights); a model with a Brevitas layer not handled here falls back
to Brevitas' own passes (`supported`).
"""

from __future__ import annotations

import copy

import torch
from brevitas.nn import QuantEmbedding, QuantIdentity, QuantLinear, QuantLSTM
from torch import nn

from lstmptq.quant.engine import FakeQuant
from lstmptq.quant.lstm import passes as lstm_passes
from lstmptq.quant.observers import Observer, observer
from lstmptq.quant.state import THRESHOLD_KEY, activation_of, activation_spec

# Brevitas layers of an architecture, with the module that runs them in these passes: it
# provides supported(module), observing(name, module, watchers) and running(module, quantized).
LAYER_PASSES = {QuantLSTM: lstm_passes}
PLAIN_LAYERS = (QuantEmbedding, QuantIdentity, QuantLinear)


class Stop(Exception):
    """Ends a forward pass once the final layer's input is captured."""


class Capture(nn.Module):
    """Stands in for the final layer: keeps its input and stops the forward pass."""

    def forward(self, x: torch.Tensor):
        self.input = x.detach()
        raise Stop


def _handler(module: nn.Module):
    return next((passes for kind, passes in LAYER_PASSES.items() if isinstance(module, kind)), None)


def supported(qmodel: nn.Module) -> bool:
    """Whether these passes can stand in for Brevitas' on `qmodel`: each Brevitas layer is a
    top-level child handled here (an embedding, linear layer or identity, or a LAYER_PASSES layer
    its handler supports), and no other child holds one."""
    for child in qmodel.children():
        handler = _handler(child)
        if handler is not None:
            if not handler.supported(child):
                return False
        elif not isinstance(child, PLAIN_LAYERS) and any(
            type(m).__module__.startswith("brevitas") for m in child.modules()
        ):
            return False
    return True


def swapped(qmodel: nn.Module, replace) -> nn.Module:
    """A shallow copy of `qmodel` whose top-level Brevitas layers are `replace(name, module)`;
    parameters are shared, not copied."""
    plain = copy.copy(qmodel)
    plain._modules = dict(qmodel._modules)
    for name, module in qmodel.named_children():
        replacement = replace(name, module)
        if replacement is not None:
            setattr(plain, name, replacement)
    return plain.eval()


def float_layer(module: nn.Module, quantized: bool) -> nn.Module | None:
    """A Brevitas embedding or linear layer as a plain one, its weights quantized or float."""
    if not isinstance(module, (QuantEmbedding, QuantLinear)):
        return None
    weight = (quantized_value(module) if quantized else module.weight).detach()
    if isinstance(module, QuantEmbedding):
        return nn.Embedding.from_pretrained(weight, freeze=True, padding_idx=module.padding_idx)
    plain = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    plain.weight.data, plain.bias.data = weight, module.bias.detach()
    return plain


def plain_layer(module: nn.Module, quantized: bool) -> nn.Module | None:
    """A Brevitas identity, embedding or linear layer as plain PyTorch: with quantization on (its
    quantizer, its quantized weights) or off (the identity, its float weights)."""
    if isinstance(module, QuantIdentity):
        return FakeQuant(*(activation_of(module.act_quant) or ())) if quantized else nn.Identity()  # () -> float
    return float_layer(module, quantized)


def quantized_value(module: nn.Module) -> torch.Tensor:
    """A Brevitas layer's weight as its forward uses it (a float layer's is its plain weight)."""
    weight = module.quant_weight()
    return getattr(weight, "value", weight)


class Watchers:
    """The observers of one statistics pass: per Brevitas state_dict prefix, (observer, proxy)."""

    def __init__(self, plan):
        self.plan, self.observers = plan, {}

    def watch(self, key: str, name: str, proxy) -> Observer:
        """An observer for quantizer `name` (as in the artifact), by its scheme statistic."""
        watcher = observer(self.plan.setting(name).statistic, self.plan.percentile_of(name))
        self.observers[key] = (watcher, proxy)
        return watcher

    def alias(self, key: str, of: str) -> None:
        """One quantizer module that Brevitas' state_dict holds under two keys."""
        self.observers[key] = self.observers[of]


@torch.no_grad()
def thresholds(qmodel: nn.Module, batches, plan) -> dict[str, torch.Tensor]:
    """The activation thresholds (Brevitas state_dict keys) of `qmodel`'s quantizers, each by its
    scheme statistic (quant.build.Plan): for `p`, exactly what Brevitas' calibration of `qmodel` on
    `batches` would store. Runs the model's `calibration_pass` where it has one (the quantizer calls
    of `class_scores` without the output layer), else `class_scores`."""
    watchers = Watchers(plan)

    def replace(name, module):
        if isinstance(module, QuantIdentity):
            return watchers.watch(f"{name}.act_quant", name, module.act_quant)
        handler = _handler(module)
        if handler is not None:
            return handler.observing(name, module, watchers)
        return float_layer(module, quantized=False)

    plain = swapped(qmodel, replace)
    run = getattr(plain, "calibration_pass", plain.class_scores)
    for ids, lengths in batches:
        run(ids, lengths)
    out = {}
    for key, (watcher, proxy) in watchers.observers.items():
        spec = activation_spec(proxy)
        value = None if spec is None else watcher.threshold(*spec)
        if value is not None:  # float quantizers, and ones never called, keep no threshold
            out[key + THRESHOLD_KEY] = value
    return out


@torch.no_grad()
def final_layer_inputs(qmodel: nn.Module, layer_name: str, batches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per batch, the (quantized, "float") inputs of the final layer `layer_name` that GPFQ
    collects with the model's forward (see the module docstring for what "float" means)."""

    def plain_model(quantized: bool) -> nn.Module:
        def replace(name, module):
            if name == layer_name:
                return Capture()
            handler = _handler(module)
            if handler is not None:
                return handler.running(module, quantized)
            return plain_layer(module, quantized)

        return swapped(qmodel, replace)

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


class Replay(nn.Module):
    """The final layer fed recorded inputs: the quantized one while quantization is on, the
    float one while Brevitas switches it off (how GPFQ's two passes see it)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, quantized: torch.Tensor, floating: torch.Tensor) -> torch.Tensor:
        return self.layer(quantized if self.layer.weight_quant.is_quant_enabled else floating)
