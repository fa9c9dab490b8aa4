"""Kolmogorov-Smirnov statistics of weight and activation distributions (FP32 vs quantized,
pre- vs post-calibration, balanced- vs random-calibrated), and hidden-state signal health."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import torch
from scipy.stats import ks_2samp
from torch import nn

from lstmptq.models.training import Encoded, collate, sorted_batches

# module name -> tensor name in the tables
PROBES = {"lstm_input": "embedding_output", "lstm": "lstm_hidden", "head_input": "final_layer_input"}


def ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and p-value. Samples seen before are not tested again: the
    embedding and LSTM weights of a bit width are the same for every calibration strategy."""
    key = tuple(hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() + str(x.dtype) for x in (a, b))
    if key not in _SEEN:
        result = ks_2samp(a, b)
        _SEEN[key] = (float(result.statistic), float(result.pvalue))
    return _SEEN[key]


_SEEN: dict[tuple[str, str], tuple[float, float]] = {}


@torch.no_grad()
def lstm_activations(model: nn.Module, data: Encoded, batch_size: int = 32) -> dict[str, np.ndarray]:
    """An LSTM classifier's KS probes: flattened activations at each probe point (real positions
    only), class scores, and |h_T| as `signal` (for the signal-health table). `model` is an FP32
    model or a quantized engine (lstmptq.quant.engine): both name their probe points alike."""
    captured: dict[str, list[np.ndarray]] = {name: [] for name in [*PROBES.values(), "scores", "signal"]}
    state: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_module, _inputs, output):
            state[name] = output[0] if isinstance(output, tuple) else output

        return hook

    handles = [getattr(model, module).register_forward_hook(keep(name)) for module, name in PROBES.items()]
    try:
        model.eval()
        for index in sorted_batches(data.lengths, batch_size):
            ids, lengths, _ = collate(data, index, "cpu")
            scores = model.class_scores(ids, lengths)
            hidden = state["lstm_hidden"]
            # the generative LSTM reads ids[:, :-1]: one real position fewer than the document
            real = lengths - (ids.size(1) - hidden.size(1))
            mask = torch.arange(hidden.size(1))[None, :] < real[:, None]
            captured["lstm_hidden"].append(hidden[mask].flatten().numpy())
            captured["signal"].append(hidden[torch.arange(len(real)), real - 1].abs().flatten().numpy())
            embedded = state["embedding_output"]
            captured["embedding_output"].append(
                embedded[torch.arange(embedded.size(1))[None, :] < lengths[:, None]].flatten().numpy()
            )
            captured["final_layer_input"].append(state["final_layer_input"].flatten().numpy())
            captured["scores"].append(scores.flatten().numpy())
    finally:
        for handle in handles:
            handle.remove()
    return {name: np.concatenate(parts) for name, parts in captured.items()}


def lstm_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """An FP32 LSTM classifier's per-layer weights (`artifact_weights` gives a quantized one's)."""
    out = {}
    for name in ("embedding", "label_embedding", "lstm", "classifier", "decoder"):
        module = getattr(model, name, None)
        if isinstance(module, nn.LSTM):
            out[name] = torch.cat([module.weight_ih_l0.flatten(), module.weight_hh_l0.flatten()]).detach().numpy()
        elif module is not None:
            out[name] = module.weight.detach().flatten().numpy()
    return out


@torch.no_grad()
def transformer_activations(model: nn.Module, data: Encoded, batch_size: int = 32) -> dict[str, np.ndarray]:
    """A transformer classifier's KS probes (FP32 model or engine, which share module names):
    the residual stream's first value and the body's output at real positions, every value the
    final layer reads, the class scores; `signal` is |body output| at the last real position."""
    captured: dict[str, list[np.ndarray]] = {
        n: [] for n in ("embedding_output", "body_output", "final_layer_input", "scores", "signal")
    }
    state: dict[str, list[torch.Tensor]] = {}

    def keep(name):
        def hook(_module, _inputs, output):
            state.setdefault(name, []).append(output)

        return hook

    probes = {"body.embedding_output": "embedding_output", "body.final_norm": "body_output", "head_input": "head"}
    handles = [model.get_submodule(m).register_forward_hook(keep(n)) for m, n in probes.items()]
    try:
        model.eval()
        for index in sorted_batches(data.lengths, batch_size):
            ids, lengths, _ = collate(data, index, "cpu")
            state.clear()
            scores = model.class_scores(ids, lengths)
            for name in ("embedding_output", "body_output"):
                values = state[name][0]  # (B, T or T - 1, D): the generative body reads ids[:, :-1]
                real = lengths - (ids.size(1) - values.size(1))
                mask = torch.arange(values.size(1))[None, :] < real[:, None]
                captured[name].append(values[mask].flatten().numpy())
                if name == "body_output":
                    captured["signal"].append(values[torch.arange(len(real)), real - 1].abs().flatten().numpy())
            captured["final_layer_input"].append(torch.cat([v.flatten() for v in state["head"]]).numpy())
            captured["scores"].append(scores.flatten().numpy())
    finally:
        for handle in handles:
            handle.remove()
    return {name: np.concatenate(parts) for name, parts in captured.items()}


def transformer_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """An FP32 transformer's weights by top-level module, as `artifact_weights` groups a quantized
    one's (every `*weight` tensor the artifact holds: linears, embeddings, LayerNorms)."""
    layers: dict[str, list[torch.Tensor]] = {}
    for name, parameter in model.named_parameters():
        if name.endswith("weight"):
            layers.setdefault(name.split(".")[0], []).append(parameter.detach().flatten())
    return {layer: torch.cat(parts).numpy() for layer, parts in layers.items()}


def artifact_weights(artifact) -> dict[str, np.ndarray]:
    """`lstm_weights` of a quantized model, from its artifact (artifact.Artifact): each layer's
    weights dequantized, the LSTM's input-to-hidden then hidden-to-hidden matrices."""
    layers: dict[str, list[torch.Tensor]] = {}
    for name in artifact.weight_names:
        layers.setdefault(name.split(".")[0], []).append(artifact.weight(name).flatten())
    return {layer: torch.cat(parts).numpy() for layer, parts in layers.items()}


def compare(
    rows: list[dict],
    comparison: str,
    strategy: str,
    a: dict[str, np.ndarray],
    b: dict[str, np.ndarray],
    names: Iterable[str],
) -> None:
    for name in names:
        statistic, pvalue = ks(a[name], b[name])
        rows.append(
            {"strategy": strategy, "tensor": name, "comparison": comparison, "ks": statistic, "p_value": pvalue}
        )


def signal_health(values: np.ndarray) -> dict[str, float]:
    """|h_T| across documents: a quantized LSTM whose output is exactly zero has mean 0."""
    return {
        "h_T_abs_mean": float(values.mean()),
        "h_T_abs_std": float(values.std()),
        "h_T_zero_share": float((values == 0).mean()),
    }
