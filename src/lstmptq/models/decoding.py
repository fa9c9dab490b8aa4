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

DECODER_CHUNK_ELEMENTS = 2**24  # positions x vocabulary logits held at once (64 MB of fp32)


def document_scores(
    states: torch.Tensor,
    targets: torch.Tensor,
    doc: torch.Tensor,
    documents: int,
    weight_hidden: torch.Tensor,
    label_logits: torch.Tensor,
) -> torch.Tensor:
    """(documents, K) sum over each document's positions of log p(target | position, y).

    states (N, H): decoder inputs without the label part; targets (N,) and doc (N,): each
    position's next token and document; weight_hidden (V, H): W_h; label_logits (K, V): W_v v_y + b.
    """
    label_top = label_logits.max(dim=1).values
    label_factors = torch.exp(label_logits - label_top[:, None])
    vocab = label_logits.size(1)
    scores = states.new_zeros(documents, label_logits.size(0))
    chunk = max(1, DECODER_CHUNK_ELEMENTS // vocab)
    for start in range(0, states.size(0), chunk):
        part = slice(start, start + chunk)
        shared = F.linear(states[part], weight_hidden)  # (n, V), once for every label
        target = targets[part]
        target_logits = shared.gather(1, target[:, None]) + label_logits.T[target]  # (n, K)
        scores.index_add_(0, doc[part], target_logits - log_normalizers(shared, label_logits, label_top, label_factors))
    return scores


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
