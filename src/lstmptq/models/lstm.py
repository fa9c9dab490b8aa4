"""The two LSTM classifiers of the study.

Both take a right-padded batch of token ids (B, T) that starts with <bos> and ends with <eos>,
plus each document's true length, and expose the same two methods:

- ``loss(ids, lengths, labels)``: the training objective (a scalar);
- ``class_scores(ids, lengths)``: (B, K) scores whose argmax is the prediction.

No PackedSequence (Brevitas' QuantLSTM has none): padding is trailing, so a unidirectional
LSTM's states at real positions never see it, and every read-out uses true lengths.

`lstm_input` and `head_input` are identity "quantization points" in FP32: PTQ swaps them (and
the layers) for Brevitas modules, so the float and quantized models share one forward.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lstmptq.data.tokenizer import PAD_ID
from lstmptq.models.decoding import ClassConditionalLM, FeatureClassifier


class DiscriminativeLSTM(FeatureClassifier):
    """embedding -> LSTM -> hidden state at the document's last real token (<eos>) -> linear."""

    kind = "discriminative"

    def __init__(
        self, vocab_size: int, num_classes: int, embedding_dim: int = 100, hidden_dim: int = 100, dropout: float = 0.0
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.classifier = nn.Linear(hidden_dim, num_classes)
        self.dropout = nn.Dropout(dropout)  # training only: the inference graph is unchanged
        self.lstm_input = nn.Identity()
        self.head_input = nn.Identity()

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The hidden state at each document's last real token (<eos>)."""
        out, _ = self.lstm(self.lstm_input(self.dropout(self.embedding(ids))))
        last = (lengths - 1).to(out.device)
        return out[torch.arange(out.size(0), device=out.device), last]


class GenerativeLSTM(ClassConditionalLM):
    """Shared-LSTM class-conditional language model (Yogatama et al. 2017).

    p(x | y) = prod_t p(x_t | x_<t, y), with logits = decoder([h_t ; v_y]). The label joins after
    the LSTM, so a document is encoded once and only the decoder runs once per label.
    Prediction: argmax_y log p(x | y) + log p(y).
    """

    kind = "generative"

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding_dim: int = 100,
        hidden_dim: int = 100,
        label_embedding_dim: int = 100,
        log_prior: torch.Tensor | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.dropout = nn.Dropout(dropout)  # training only: the inference graph is unchanged
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.label_embedding = nn.Embedding(num_classes, label_embedding_dim)
        self.decoder = nn.Linear(hidden_dim + label_embedding_dim, vocab_size)
        self.lstm_input = nn.Identity()
        self.head_input = nn.Identity()
        self.register_log_prior(log_prior, num_classes)

    def states(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.lstm_input(self.dropout(self.embedding(ids[:, :-1]))))
        return self.dropout(out)


def log_prior_from(config: str, train_labels, num_classes: int) -> torch.Tensor:
    """log p(y): uniform, or the empirical train label frequencies."""
    if config == "uniform":
        return torch.full((num_classes,), -math.log(num_classes))
    if config == "empirical":
        counts = torch.bincount(torch.tensor(train_labels, dtype=torch.long), minlength=num_classes).double()
        return (counts / counts.sum()).log().float()
    raise ValueError(f"model.prior must be 'uniform' or 'empirical', not {config!r}")
