"""Class scores of a class-conditional language model with one decoder product for every label,
and the heads that the LSTM and transformer classifiers share (ClassConditionalLM, FeatureClassifier).

The generative classifier's logits for label y at a position are W [h ; v_y] + b
= W_h h + (W_v v_y + b): the first term is shared by every label, the second does not depend on
the document. So W_h h is computed once per position (not once per label), and each label adds
its own offset; the softmax normalizers of all labels come from one exp pass, since
sum_v e^(shared_v - m) e^(l_yv - m_y) is a matrix product with the (K, V) label factors.
The FP32 model and the quantized engine both score this way; it equals the per-label decoder
passes up to float rounding (tests/test_models_lstm.py, tests/test_quant_engine.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# The decoder product is tiled: DECODER_ROWS positions x DECODER_VOCAB_BLOCK words of logits at a
# time (2 MB of fp32), each block's exp and normaliser product taken while it is in cache. MKL's
# product with the whole vocabulary as one output runs at ~0.4x its rate on blocks of ~1k words
# here, and a 64 MB logits chunk took the exp out of cache too (bench/decoder.py measures both).
DECODER_ROWS = 512
DECODER_VOCAB_BLOCK = 1024


def document_scores(
    states: torch.Tensor,
    targets: torch.Tensor,
    doc: torch.Tensor,
    documents: int,
    weight_hidden: torch.Tensor,
    label_logits: torch.Tensor,
    rows: int | None = None,
    vocab_block: int | None = None,
) -> torch.Tensor:
    """(documents, K) sum over each document's positions of log p(target | position, y).

    states (N, H): decoder inputs without the label part; targets (N,) and doc (N,): each
    position's next token and document; weight_hidden (V, H): W_h; label_logits (K, V): W_v v_y + b.
    `rows`, `vocab_block`: the tile (default DECODER_ROWS, DECODER_VOCAB_BLOCK).
    """
    rows, vocab_block = rows or DECODER_ROWS, vocab_block or DECODER_VOCAB_BLOCK
    label_top = label_logits.max(dim=1).values
    label_factors = torch.exp(label_logits - label_top[:, None])
    scores = states.new_zeros(documents, label_logits.size(0))
    for start in range(0, states.size(0), rows):
        part = slice(start, start + rows)
        x, target = states[part], targets[part]
        # the target's shared logit, W_h[target] . h, as a dot product: no column of the tiles needed
        target_logits = (x * weight_hidden[target]).sum(1, keepdim=True) + label_logits.T[target]  # (n, K)
        normalizers = log_normalizers_tiled(x, weight_hidden, label_logits, label_top, label_factors, vocab_block)
        scores.index_add_(0, doc[part], target_logits - normalizers)
    return scores


def log_normalizers_tiled(
    x: torch.Tensor,
    weight_hidden: torch.Tensor,
    label_logits: torch.Tensor,
    label_top: torch.Tensor,
    label_factors: torch.Tensor,
    vocab_block: int,
) -> torch.Tensor:
    """(n, K) log normalizers of positions x, summed over vocabulary blocks of W_h x; where a sum
    overflowed or underflowed, log_normalizers on the whole row (which takes the maximum out)."""
    sums = x.new_zeros(x.size(0), label_logits.size(0))
    for start in range(0, weight_hidden.size(0), vocab_block):
        block = slice(start, start + vocab_block)
        sums += torch.exp(F.linear(x, weight_hidden[block])) @ label_factors[:, block].T
    normalizers = sums.log_() + label_top
    if torch.isfinite(normalizers).all():
        return normalizers
    return log_normalizers(F.linear(x, weight_hidden), label_logits, label_top, label_factors)


def log_normalizers(
    shared: torch.Tensor, label_logits: torch.Tensor, label_top: torch.Tensor, label_factors: torch.Tensor
) -> torch.Tensor:
    """(n, K) logsumexp_v(shared + label_logits[y]) for every label y, from one exp pass.

    First without subtracting the row maximum (a pass over n x V less: language-model logits sit
    far below exp's overflow at 88), then, where a sum overflowed or underflowed, with it, and
    where even that fails (label logits spread by more than ~80 nats), one logsumexp per label."""
    normalizers = (torch.exp(shared) @ label_factors.T).log_() + label_top
    if torch.isfinite(normalizers).all():
        return normalizers
    top = shared.max(dim=1, keepdim=True).values
    normalizers = (torch.exp(shared - top) @ label_factors.T).log_() + top + label_top
    if torch.isfinite(normalizers).all():
        return normalizers
    return torch.stack([torch.logsumexp(shared + offset, dim=-1) for offset in label_logits], dim=1)


class ClassConditionalLM(nn.Module):
    """What the generative classifiers share: a label-free body gives each position's state
    h_t (`states`), the decoder reads [h_t ; v_y], and prediction is argmax_y log p(x | y) + log p(y).

    A subclass builds `label_embedding` (K, L), `decoder` (H + L -> V), `head_input` (the
    decoder input's quantization point) and `dropout` in its own order (the order sets which
    random numbers each layer starts from), calls `register_log_prior`, and defines `states`.
    """

    # Brevitas calibrates the decoder's input quantizer on one call per label: the quantized
    # model keeps that reference algorithm (its family's `quantize` sets this)
    per_label_decoder = False

    def register_log_prior(self, log_prior: torch.Tensor | None, num_classes: int) -> None:
        if log_prior is None:
            log_prior = torch.full((num_classes,), -math.log(num_classes))
        self.register_buffer("log_prior", torch.as_tensor(log_prior, dtype=torch.float32).clone())

    @property
    def num_classes(self) -> int:
        return self.label_embedding.num_embeddings

    def states(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T - 1, H): the state at position t reads x_<=t (and predicts x_{t+1})."""
        raise NotImplementedError

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """States that predict each real next token: (states (N, H), targets (N,), doc (N,)).

        Only the N real (non-padding) targets are kept, so no softmax work is spent on padding.
        """
        out = self.states(ids, lengths)
        steps = torch.arange(ids.size(1) - 1, device=ids.device)
        mask = steps[None, :] < (lengths.to(ids.device) - 1)[:, None]
        doc = torch.arange(ids.size(0), device=ids.device)[:, None].expand_as(mask)
        return out[mask], ids[:, 1:][mask], doc[mask]

    def token_log_probs(self, states: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """log p(target | prefix, label) for each of the N positions."""
        logits = self.decoder(self.head_input(torch.cat([states, self.label_embedding(labels)], dim=-1)))
        return logits.log_softmax(-1).gather(-1, targets[:, None]).squeeze(-1)

    def log_likelihood(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, K) log p(x | y) for every label: one body pass, K decoder passes."""
        states, targets, doc = self.encode(ids, lengths)
        scores = states.new_zeros(ids.size(0), self.num_classes)
        for label in range(self.num_classes):
            labels = torch.full_like(targets, label)
            scores[:, label].index_add_(0, doc, self.token_log_probs(states, targets, labels))
        return scores

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Decoder logits for every (position, label) pair in ONE decoder call: (K * N, V).

        GPFQ stops the forward at the first call of the layer it optimises; this is the input
        it must see, since at inference the decoder reads [h_t ; v_y] for every label y.
        """
        states, _, _ = self.encode(ids, lengths)
        labels = torch.arange(self.num_classes, device=states.device).repeat_interleave(states.size(0))
        inputs = torch.cat([states.repeat(self.num_classes, 1), self.label_embedding(labels)], dim=-1)
        return self.decoder(self.head_input(inputs))

    def loss(self, ids, lengths, labels):
        """Mean negative log-likelihood per real token under the true label."""
        states, targets, doc = self.encode(ids, lengths)
        return -self.token_log_probs(states, targets, labels.to(ids.device)[doc]).mean()

    def calibration_pass(self, ids: torch.Tensor, lengths: torch.Tensor) -> None:
        """The quantization points `log_likelihood` calls, in its order, without the decoder
        (what Brevitas' calibration observes; lstmptq.quant.passes)."""
        states, targets, _ = self.encode(ids, lengths)
        for label in range(self.num_classes):
            self.head_input(torch.cat([states, self.label_embedding(torch.full_like(targets, label))], dim=-1))

    def shared_decoder_log_likelihood(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """`log_likelihood` with one decoder product for every label (`document_scores`); equal up
        to float rounding, K times less decoder work. It splits the decoder input [h_t ; v_y], so
        `head_input` must quantize elementwise (float, or one scale: the engines' FakeQuant)."""
        states, targets, doc = self.encode(ids, lengths)
        hidden = states.size(1)
        weight = self.decoder.weight
        label_logits = F.linear(self.head_input(self.label_embedding.weight), weight[:, hidden:], self.decoder.bias)
        return document_scores(self.head_input(states), targets, doc, ids.size(0), weight[:, :hidden], label_logits)

    def class_scores(self, ids, lengths):
        if self.per_label_decoder:
            return self.log_likelihood(ids, lengths) + self.log_prior
        return self.shared_decoder_log_likelihood(ids, lengths) + self.log_prior


class FeatureClassifier(nn.Module):
    """What the discriminative classifiers share: `features` (B, D) of a document -> dropout ->
    `head_input` (the final layer's quantization point) -> `classifier`, trained by cross-entropy."""

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head_input(self.dropout(self.features(ids, lengths))))

    def loss(self, ids, lengths, labels):
        return F.cross_entropy(self(ids, lengths), labels)

    def class_scores(self, ids, lengths):
        return self(ids, lengths).log_softmax(-1)

    def calibration_pass(self, ids, lengths):
        """The quantization points `class_scores` calls (lstmptq.quant.passes)."""
        self.head_input(self.features(ids, lengths))
