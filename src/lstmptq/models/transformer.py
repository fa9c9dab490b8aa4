"""The two transformer classifiers (issue 27, open question 2), trained from scratch on the
study's tokens, with the LSTMs' interface (models.lstm): `loss`, `class_scores`.

Small pre-norm encoders in the literature's range for from-scratch text classifiers (Kasa et al.
2025, arXiv 2506.12181: down to one layer, one head, 64 dimensions): token + learned position
embeddings, `layers` blocks of multi-head self-attention and a GELU MLP, a final LayerNorm.

- Discriminative: bidirectional attention over the real tokens, mean pooling, linear head.
- Generative: causal attention, and the GenerativeLSTM's head (models.decoding.ClassConditionalLM):
  the decoder reads [h_t ; v_y], so the label-free body runs once per document and only the
  vocabulary product runs per label (and that one is shared too, lstmptq.models.decoding). A
  label prefix token would need one body pass per label: K times the attention and MLP work.

Attention is written out (not nn.MultiheadAttention) so that every quantization point is an
identity module with an artifact name: PTQ swaps the linears and these points for Brevitas
layers (lstmptq.quant.transformer), and the engine replays them from the artifact. `shape` holds
the constructor's sizes, which the artifact records so that the engine can rebuild the model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lstmptq.data.tokenizer import PAD_ID
from lstmptq.models.decoding import ClassConditionalLM, FeatureClassifier

# a block's quantization points, by artifact name suffix (lstmptq.quant.transformer.points)
BLOCK_POINTS = ("attention_input", "query", "key", "value", "scores", "probabilities", "context", "attention_residual",
                "mlp_input", "mlp_hidden", "mlp_residual")  # fmt: skip
BLOCK_LINEARS = ("query_proj", "key_proj", "value_proj", "output_proj", "mlp_in", "mlp_out")


class Block(nn.Module):
    """x + attention(LN(x)), then x + MLP(LN(x)); the points quantize what each product reads
    and the residual stream after each sum."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"model.transformer: dim {dim} is not a multiple of heads {heads}")
        self.heads = heads
        self.attention_norm, self.mlp_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.query_proj, self.key_proj, self.value_proj = (nn.Linear(dim, dim) for _ in range(3))
        self.output_proj = nn.Linear(dim, dim)
        self.mlp_in, self.mlp_out = nn.Linear(dim, mlp_dim), nn.Linear(mlp_dim, dim)
        self.dropout = nn.Dropout(dropout)
        for point in BLOCK_POINTS:
            setattr(self, point, nn.Identity())

    def split(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, heads, T, D / heads)
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, D); mask (B, 1, T or 1, T) true where a position may attend."""
        h = self.attention_input(self.attention_norm(x))
        q = self.split(self.query(self.query_proj(h)))
        k = self.split(self.key(self.key_proj(h)))
        v = self.split(self.value(self.value_proj(h)))
        scores = self.scores((q @ k.transpose(-1, -2)) / math.sqrt(q.size(-1)))
        probabilities = self.probabilities(scores.masked_fill(~mask, float("-inf")).softmax(-1))
        context = self.context((self.dropout(probabilities) @ v).transpose(1, 2).flatten(2))
        x = self.attention_residual(x + self.dropout(self.output_proj(context)))
        hidden = self.mlp_hidden(F.gelu(self.mlp_in(self.mlp_input(self.mlp_norm(x)))))
        return self.mlp_residual(x + self.dropout(self.mlp_out(hidden)))


class Body(nn.Module):
    """Embeddings -> blocks -> final LayerNorm: (B, T, D) states of every position."""

    def __init__(self, vocab_size: int, max_len: int, dim: int, layers: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=PAD_ID)
        self.position_embedding = nn.Embedding(max_len, dim)
        self.embedding_output = nn.Identity()  # the residual stream's first value
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_dim, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if ids.size(1) > self.position_embedding.num_embeddings:
            raise ValueError(
                f"a document of {ids.size(1)} tokens, but the model has {self.position_embedding.num_embeddings} "
                "positions: set config key model.transformer.max_positions to at least tokenize.max_len + 2 and retrain"
            )
        positions = torch.arange(ids.size(1), device=ids.device)
        x = self.embedding_output(self.dropout(self.embedding(ids) + self.position_embedding(positions)))
        for block in self.blocks:
            x = block(x, mask)
        return self.final_norm(x)


def padding_mask(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, 1, 1, T): attend to real tokens only."""
    steps = torch.arange(ids.size(1), device=ids.device)
    return (steps[None, :] < lengths.to(ids.device)[:, None])[:, None, None, :]


def causal_mask(length: int, device) -> torch.Tensor:
    """(1, 1, T, T): position t attends to positions <= t (trailing padding is never attended to
    by a real position, so no padding mask is needed)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()[None, None]


class DiscriminativeTransformer(FeatureClassifier):
    """Bidirectional encoder -> mean of the real positions' states -> linear."""

    kind = "transformer_discriminative"

    def __init__(self, vocab_size: int, num_classes: int, max_len: int, dim: int = 64, layers: int = 2,
                 heads: int = 2, mlp_dim: int = 256, dropout: float = 0.0):  # fmt: skip
        super().__init__()
        self.shape = {"vocab_size": vocab_size, "num_classes": num_classes, "max_len": max_len, "dim": dim,
                      "layers": layers, "heads": heads, "mlp_dim": mlp_dim}  # fmt: skip
        self.body = Body(vocab_size, max_len, dim, layers, heads, mlp_dim, dropout)
        self.head_input = nn.Identity()
        self.classifier = nn.Linear(dim, num_classes)
        self.dropout = nn.Dropout(dropout)

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The mean of the real positions' states."""
        mask = padding_mask(ids, lengths)
        states = self.body(ids, mask)
        real = mask[:, 0, 0, :, None].to(states.dtype)
        return (states * real).sum(1) / real.sum(1)


class GenerativeTransformer(ClassConditionalLM):
    """A causal transformer language model with the shared label head: p(x | y) p(y)."""

    kind = "transformer_generative"

    def __init__(self, vocab_size: int, num_classes: int, max_len: int, dim: int = 64, layers: int = 2,
                 heads: int = 2, mlp_dim: int = 256, label_embedding_dim: int = 64,
                 log_prior: torch.Tensor | None = None, dropout: float = 0.0):  # fmt: skip
        super().__init__()
        self.shape = {"vocab_size": vocab_size, "num_classes": num_classes, "max_len": max_len, "dim": dim,
                      "layers": layers, "heads": heads, "mlp_dim": mlp_dim,
                      "label_embedding_dim": label_embedding_dim}  # fmt: skip
        self.dropout = nn.Dropout(dropout)
        self.body = Body(vocab_size, max_len, dim, layers, heads, mlp_dim, dropout)
        self.label_embedding = nn.Embedding(num_classes, label_embedding_dim)
        self.decoder = nn.Linear(dim + label_embedding_dim, vocab_size)
        self.head_input = nn.Identity()
        self.register_log_prior(log_prior, num_classes)

    def states(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        inputs = ids[:, :-1]
        return self.dropout(self.body(inputs, causal_mask(inputs.size(1), ids.device)))


MODELS = {cls.kind: cls for cls in (DiscriminativeTransformer, GenerativeTransformer)}
