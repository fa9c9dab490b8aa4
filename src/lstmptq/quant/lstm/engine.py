"""The LSTM classifiers' engine: Brevitas 0.13.4's quantized forward of both, in plain PyTorch
from the artifact (docs/brevitas-quantlstm-numerics.md). Where Brevitas loops, this vectorises:

- the input-to-hidden projections of all timesteps and all four gates are one matrix product;
  only the recurrent product and the cell's elementwise quantizers step through time;
- the generative decoder reads the quantized concatenation [q(h_t) ; q(v_y)] (one scale, an
  elementwise quantizer, so it splits exactly), so W_h q(h_t) is computed once for every label and
  only the label's own logit offset W_v q(v_y) + b differs per label (lstmptq.models.decoding).

On CUDA the recurrent step is captured once per batch size as a CUDA graph and replayed (its ~40
small kernels launched one by one cost several times the arithmetic; bench/engine.py --device cuda).

The LSTM part keeps Brevitas' operand and addition order and is bit-identical to it on CPU; the
split decoder sums the same products in another order, so generative scores differ from
Brevitas' by float rounding (measured and checked in every PTQ cell, see stages.ptq.verify).
The engine keeps gate rows in the order i, f, o, g (cell.ENGINE_GATES; the artifact has nn.LSTM's
i, f, g, o), so that one sigmoid covers a contiguous 3H slice; a row permutation changes no
arithmetic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lstmptq.models.decoding import document_scores
from lstmptq.quant.artifact import Artifact, ArtifactError
from lstmptq.quant.engine import FakeQuant
from lstmptq.quant.lstm.cell import ENGINE_GATES, SIGMOIDS


def _stacked(artifact: Artifact, names: tuple[str, ...], hidden: int) -> FakeQuant:
    """Quantizers of the same bits and signedness (one per gate) as one, its scale per gate row."""
    if not any(name in artifact.activations for name in names):
        return FakeQuant()
    try:
        specs = [artifact.activations[name] for name in names]
    except KeyError as err:
        raise ArtifactError(f"{artifact.path}: {names} are quantized only in part ({err} is missing)") from err
    if len({(bits, signed) for _, bits, signed in specs}) != 1:
        raise ArtifactError(f"{artifact.path}: {names} differ in bits or signedness")
    scale = torch.stack([s.reshape(()) for s, _, _ in specs]).repeat_interleave(hidden)
    return FakeQuant(scale, specs[0][1], specs[0][2])


class QuantizedLSTM(nn.Module):
    """Brevitas QuantLSTM (one layer, batch_first, zero initial state, output-only io quantizer)."""

    def __init__(self, artifact: Artifact):
        super().__init__()
        w_ih, w_hh = artifact.weight("lstm.weight_ih"), artifact.weight("lstm.weight_hh")
        H = self.hidden = w_hh.shape[1]
        ifog = torch.cat([torch.arange(2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)])
        self.register_buffer("weight_ih", w_ih[ifog])  # (4H, E)
        self.register_buffer("weight_hh", w_hh[ifog])  # (4H, H)
        self.register_buffer("bias", artifact.floats["lstm.bias"][ifog])  # b_ih + b_hh, float
        self.accumulators = _stacked(artifact, tuple(f"lstm.{gate}_acc" for gate in ENGINE_GATES), self.hidden)
        self.sigmoids = _stacked(artifact, tuple(f"lstm.{name}" for name in SIGMOIDS), self.hidden)
        self.cell_tanh = FakeQuant.of(artifact, "lstm.cell_tanh")
        self.cell_state = FakeQuant.of(artifact, "lstm.cell_state")
        self.hidden_state_tanh = FakeQuant.of(artifact, "lstm.hidden_state_tanh")
        self.output = FakeQuant.of(artifact, "lstm.output")
        self._graphs: dict = {}  # CUDA only: the recurrent step as a graph per batch size

    def use_float_weights(self, quant_lstm: nn.Module) -> None:
        """Run with a Brevitas QuantLSTM's float weights (quantizers still on): the input GPFQ's
        "quantization off" pass sees (lstmptq.quant.passes)."""
        layer = quant_lstm.layers[0][0]
        gates = [getattr(layer, f"{gate}_gate_params") for gate in ENGINE_GATES]
        self.weight_ih = torch.cat([g.input_weight.weight.detach() for g in gates])
        self.weight_hh = torch.cat([g.hidden_weight.weight.detach() for g in gates])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, E) quantized inputs -> (B, T, H) hidden states."""
        batch, steps, _ = x.shape
        H = self.hidden
        input_part = F.linear(x, self.weight_ih).transpose(0, 1).contiguous()  # every step and gate at once: (T, B, 4H)
        outputs = x.new_empty(batch, steps, H)
        if x.is_cuda:  # ~40 small kernels a step: launched one by one they cost 10x the arithmetic
            graph, static = self._step_graph(batch, x)
            static["h"].zero_()
            static["c"].zero_()
            for t in range(steps):
                static["input"].copy_(input_part[t])
                graph.replay()
                outputs[:, t] = static["h"]
            return outputs
        h = x.new_zeros(batch, H)  # the initial state is zero and not quantized, as in Brevitas
        c = x.new_zeros(batch, H)
        for t in range(steps):
            h, c = self.step(input_part[t], h, c)
            outputs[:, t] = h
        return outputs

    def _step_graph(self, batch: int, like: torch.Tensor):
        """`step` captured as a CUDA graph for this batch size (once), reading and updating static
        input, h and c buffers; replaying it is one launch instead of one per operation."""
        key = (batch, like.device, self.weight_hh.data_ptr())
        if key not in self._graphs:
            H = self.hidden
            static = {
                "input": like.new_zeros(batch, 4 * H),
                "h": like.new_zeros(batch, H),
                "c": like.new_zeros(batch, H),
            }
            stream = torch.cuda.Stream(like.device)
            stream.wait_stream(torch.cuda.current_stream(like.device))
            with torch.cuda.stream(stream):  # warm-up before capture, as CUDA graphs require
                for _ in range(3):
                    self.step(static["input"], static["h"], static["c"])
            torch.cuda.current_stream(like.device).wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                h, c = self.step(static["input"], static["h"], static["c"])
                static["h"].copy_(h)
                static["c"].copy_(c)
            self._graphs[key] = graph, static
        return self._graphs[key]

    def step(self, input_t: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One timestep: (x_t W_ih^T, h_{t-1}, c_{t-1}) -> (h_t, c_t)."""
        H = self.hidden
        # (x W_ih^T + h W_hh^T) + b: Brevitas' addition order, kept for bit-identical sums
        gates = self.accumulators((input_t + F.linear(h, self.weight_hh)) + self.bias)
        i, f, o = self.sigmoids(torch.sigmoid(gates[:, : 3 * H])).split(H, dim=1)
        g = self.cell_tanh(torch.tanh(gates[:, 3 * H :]))
        c = self.cell_state(self.cell_state(f * c) + self.cell_state(i * g))
        h = self.output(o * self.hidden_state_tanh(torch.tanh(c)))
        return h, c


class QuantizedClassifier(nn.Module):
    """Shared part of both classifiers: quantized embedding lookup -> QuantizedLSTM."""

    def __init__(self, artifact: Artifact):
        super().__init__()
        self.header = artifact.header
        self.kind = artifact.kind
        self.register_buffer("embedding", artifact.weight("embedding.weight"))
        self.lstm_input = FakeQuant.of(artifact, "lstm_input")
        self.lstm = QuantizedLSTM(artifact)
        self.head_input = FakeQuant.of(artifact, "head_input")

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.numel() and int(ids.max()) >= self.embedding.size(0):
            raise ValueError(
                f"token id {int(ids.max())} is outside this model's vocabulary of {self.embedding.size(0)}"
            )
        return self.lstm(self.lstm_input(F.embedding(ids, self.embedding)))


class QuantizedDiscriminative(QuantizedClassifier):
    def __init__(self, artifact: Artifact):
        super().__init__(artifact)
        self.register_buffer("weight", artifact.weight("classifier.weight"))
        self.register_buffer("bias", artifact.floats["classifier.bias"])

    @torch.no_grad()
    def class_scores(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self.encode(ids)
        last = out[torch.arange(out.size(0), device=out.device), (lengths - 1).to(out.device)]
        return F.linear(self.head_input(last), self.weight, self.bias).log_softmax(-1)


class QuantizedGenerative(QuantizedClassifier):
    def __init__(self, artifact: Artifact):
        super().__init__(artifact)
        weight = artifact.weight("decoder.weight")  # (V, H + L)
        labels = artifact.weight("label_embedding.weight")  # (K, L)
        hidden = self.lstm.hidden
        self.register_buffer("weight_hidden", weight[:, :hidden].contiguous())
        # per label: W_v q(v_y) + b, the part of the logits that does not depend on the document
        self.register_buffer(
            "label_logits", F.linear(self.head_input(labels), weight[:, hidden:], artifact.floats["decoder.bias"])
        )
        self.register_buffer("log_prior", artifact.floats["log_prior"])

    @torch.no_grad()
    def class_scores(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, K) log p(x | y) + log p(y), positions as in GenerativeLSTM.encode."""
        out = self.encode(ids[:, :-1])
        steps = torch.arange(ids.size(1) - 1, device=ids.device)
        mask = steps[None, :] < (lengths.to(ids.device) - 1)[:, None]
        doc = torch.arange(ids.size(0), device=ids.device)[:, None].expand_as(mask)[mask]
        scores = document_scores(
            self.head_input(out[mask]), ids[:, 1:][mask], doc, ids.size(0), self.weight_hidden, self.label_logits
        )
        return scores + self.log_prior
