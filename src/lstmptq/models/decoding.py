"""Class scores of a class-conditional language model with one decoder product for every label.

The generative classifier's logits for label y at a position are W [h ; v_y] + b
= W_h h + (W_v v_y + b): the first term is shared by every label, the second does not depend on
the document. So W_h h is computed once per position (not once per label), and each label adds
its own offset; the softmax normalizers of all labels come from one exp pass, since
sum_v e^(shared_v - m) e^(l_yv - m_y) is a matrix product with the (K, V) label factors.
The FP32 model and the quantized engine both score this way; it equals the per-label decoder
passes up to float rounding (tests/test_models_lstm.py, tests/test_quant_engine.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
