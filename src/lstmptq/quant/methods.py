"""PTQ methods on a Brevitas model, and the choice "fast pass or Brevitas' own" in one place.

A PTQ cell calibrates (`calibrate`: activation thresholds by each quantizer's statistic), then
runs its method (registry.PTQ_METHODS: `plain` nearest rounding, `gpfq` GPFQ on the final layer;
the LSTM's `gpfq_lstm` lives in lstmptq.quant.lstm.gpfq). Where lstmptq.quant.passes can produce
in plain PyTorch what Brevitas' forward passes would (equal numbers, tested), they do; else
Brevitas runs its own.

Known Brevitas traps handled here (shared notes): `quantization_status_manager` does not reach
QuantLSTM's internal quantizers, so `float_reference` runs a copy in calibration mode; GPFQ stops
the forward at the first decoder call, so the generative model feeds it every label in one call.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import torch
from brevitas.graph.calibrate import calibration_mode
from brevitas.graph.gpfq import gpfq_mode
from torch import nn

from lstmptq import registry
from lstmptq.quant import engine, passes
from lstmptq.quant.build import Plan, quantize_model
from lstmptq.quant.gpfq import incremental_gpfq
from lstmptq.scheme import parse

log = logging.getLogger(__name__)


@torch.no_grad()
def calibrate(model: nn.Module, batches, plan: Plan) -> None:
    """Activation thresholds from the calibration batches, by each quantizer's scheme statistic.

    Where the model's layers allow (passes.supported), a fast float pass computes them (for the
    percentile, exactly what Brevitas' calibration stores; tested) and Brevitas loads them as its
    own; else Brevitas calibrates itself, which knows the percentile statistic only."""
    if passes.supported(model):
        set_thresholds(model, passes.thresholds(model, batches, plan))
    elif any(setting.statistic != "p" for setting in plan.scheme.settings.values()):
        raise ValueError(
            f"scheme {plan.scheme.name}: the {model.kind} model has layers "
            "the float statistics pass does not handle; use the percentile statistic"
        )
    else:
        brevitas_calibrate(model, batches)


@torch.no_grad()
def brevitas_calibrate(model: nn.Module, batches) -> None:
    """Brevitas' own calibration: its percentile statistic over the batches (weights and biases
    unquantized meanwhile)."""
    with calibration_mode(model):
        for ids, lengths in batches:
            model.class_scores(ids, lengths)
    model.eval()


def set_thresholds(model: nn.Module, thresholds: dict[str, torch.Tensor]) -> None:
    """Calibrate `model` with given activation thresholds (state_dict keys, e.g. from
    passes.thresholds): loaded like a saved calibrated model, so Brevitas treats them as its own."""
    state = model.state_dict()
    model.load_state_dict({**state, **thresholds})
    model.eval()


def nearest_rounding(model: nn.Module, family, batches) -> None:
    """PTQ method `plain`: weights stay rounded to nearest (nothing to do after calibration)."""


@torch.no_grad()
def apply_gpfq(model: nn.Module, family, batches) -> None:
    """PTQ method `gpfq`: GPFQ on the family's final linear layer (`GPFQ_LAYER`, the only layer
    Brevitas' GPFQ handles here).

    Brevitas' GPFQ runs the model forward twice per batch (quantized, then with quantization
    off) to collect the layer's inputs; where lstmptq.quant.passes can produce those inputs in plain
    PyTorch, GPFQ runs on the layer alone, fed them (the same weights result, tested)."""
    if not getattr(model, family.GPFQ_LAYER).weight_quant.is_quant_enabled:
        log.info("GPFQ: the final layer's weights stay float in this scheme; nothing to round")
        return
    if passes.supported(model):
        target = passes.Replay(getattr(model, family.GPFQ_LAYER))
        calls = passes.final_layer_inputs(model, family.GPFQ_LAYER, batches)
    elif sum(callable(getattr(m, "quant_weight", None)) for m in model.modules() if hasattr(m, "in_features")) > 1:
        # Brevitas' GPFQ would round every linear layer (a transformer's): feed it the final
        # layer alone, with the inputs its two passes would collect
        target = passes.Replay(getattr(model, family.GPFQ_LAYER))
        calls = recorded_final_layer_inputs(model, family.GPFQ_LAYER, batches)
    else:
        target, calls = model, batches
    run_gpfq(target, calls, expected_layers=1)
    drop_float_copies(model)


@torch.no_grad()
def apply_gpfq_all(model: nn.Module, family, batches) -> None:
    """PTQ method `gpfq_all`: Brevitas' GPFQ on every linear layer it finds, first to last, each
    fed its inputs by the model's forward with the layers before it already rounded (a
    transformer's 13 linears; an LSTM's final layer only: QuantLSTM is not a layer GPFQ handles)."""
    run_gpfq(model, batches)
    drop_float_copies(model)


def run_gpfq(target: nn.Module, calls, expected_layers: int | None = None) -> None:
    """Brevitas' GPFQ on every eligible layer of `target`, each round driven by `calls`."""
    with gpfq_mode(target, use_quant_activations=True, algorithm_impl=incremental_gpfq()) as gpfq:
        if expected_layers is not None and gpfq.num_layers != expected_layers:
            raise RuntimeError(f"GPFQ found {gpfq.num_layers} eligible layers, expected {expected_layers}")
        for _ in range(gpfq.num_layers):
            for args in calls:
                gpfq.model(*args)  # drive the wrapped forward itself, or GPFQ is bypassed
            gpfq.update()


def drop_float_copies(model: nn.Module) -> None:
    """Remove the float weight copies (`weight_orig`) GPFQ leaves on the layers it rounded."""
    for layer in model.modules():
        if hasattr(layer, "weight_orig"):
            del layer.weight_orig
    model.eval()


def recorded_final_layer_inputs(model: nn.Module, layer_name: str, batches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per batch, the final layer's input in the quantized model and with every quantizer off
    (`float_reference`): what Brevitas' GPFQ collects in its quantized and float passes, read
    from Brevitas' own forward (for models the plain passes do not cover)."""

    def capture(_module, inputs):
        captured.append(inputs[0].detach())
        raise passes.Stop

    pairs = []
    with float_reference(model) as reference:
        hooks = [getattr(m, layer_name).register_forward_pre_hook(capture) for m in (model, reference)]
        try:
            for ids, lengths in batches:
                captured = []
                for m in (model, reference):
                    with contextlib.suppress(passes.Stop):
                        m(ids, lengths)
                if len(captured) != 2:
                    raise RuntimeError(f"the forward pass never reached {layer_name!r}")
                pairs.append(tuple(captured))
        finally:
            for hook in hooks:
                hook.remove()
    return pairs


@contextlib.contextmanager
def float_reference(model: nn.Module) -> Iterator[nn.Module]:
    """The quantized graph with every quantizer off, QuantLSTM's internal ones included.

    `quantization_status_manager` does not reach QuantLSTM's internal quantizers (its cell calls
    them directly); calibration mode does, since it runs the float forward while observing.
    It runs on a throwaway copy so that the observed statistics never touch `model`.
    """
    reference = copy.deepcopy(model)
    with calibration_mode(reference), torch.no_grad():
        yield reference


def float_twin(model: nn.Module) -> nn.Module:
    """The FP32 model as its family's engine runs it (scheme `wf`: every weight and activation
    float, the same quantization points as identities): what diagnostics compares a quantized
    engine with, point by point."""
    wf = quantize_model(model, Plan(parse("wf"), 99.99))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "float.safetensors"
        registry.family(model.kind).export(wf, path, {"scheme": "wf"})
        return engine.load(path, kind=model.kind).eval()
