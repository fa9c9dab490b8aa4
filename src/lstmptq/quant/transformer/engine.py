"""The transformer artifact in plain PyTorch: the FP32 model's own class and forward, its weights
dequantized from the artifact and its identity points replaced by the artifact's quantizers
(lstmptq.quant.engine.FakeQuant), so the engine computes what the Brevitas model does, in
the same order. Every PTQ cell checks that against Brevitas (stages.ptq.verify)."""

from __future__ import annotations

from torch import nn

from lstmptq.models.transformer import MODELS
from lstmptq.quant.artifact import Artifact
from lstmptq.quant.engine import FakeQuant
from lstmptq.quant.transformer.build import _swap, points


def transformer_engine(artifact: Artifact) -> nn.Module:
    model = MODELS[artifact.kind](**artifact.header["shape"])  # the sizes the artifact records
    state = {name: artifact.weight(name) for name in artifact.weight_names}
    state.update({name: tensor for name, tensor in artifact.floats.items() if name not in state})
    model.load_state_dict(state)  # a tensor missing or left over: RuntimeError (engine.load names the file)
    for name in points(model):
        _swap(model, name, FakeQuant.of(artifact, name))
    model.header = artifact.header
    return model.eval()
