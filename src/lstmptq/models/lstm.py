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
import torch.nn.functional as F
from torch import nn

from lstmptq.data.tokenizer import PAD_ID
from lstmptq.models.decoding import document_scores


class DiscriminativeLSTM(nn.Module):
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

    def last_hidden(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.lstm_input(self.dropout(self.embedding(ids))))
        last = (lengths - 1).to(out.device)
        return out[torch.arange(out.size(0), device=out.device), last]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head_input(self.dropout(self.last_hidden(ids, lengths))))

    def loss(self, ids, lengths, labels):
        return F.cross_entropy(self(ids, lengths), labels)

    def class_scores(self, ids, lengths):
        return self(ids, lengths).log_softmax(-1)

    def calibration_pass(self, ids, lengths):
        """The quantization points `class_scores` calls (lstmptq.quant.passes)."""
        self.head_input(self.last_hidden(ids, lengths))


class GenerativeLSTM(nn.Module):
    """Shared-LSTM class-conditional language model (Yogatama et al. 2017).

    p(x | y) = prod_t p(x_t | x_<t, y), with logits = decoder([h_t ; v_y]). The label joins after
    the LSTM, so a document is encoded once and only the decoder runs once per label.
    Prediction: argmax_y log p(x | y) + log p(y).
    """

    kind = "generative"
    # Brevitas calibrates the decoder's input quantizer on one call per label: the quantized
    # model keeps that reference algorithm (its family's `quantize` sets this)
    per_label_decoder = False

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
        if log_prior is None:
            log_prior = torch.full((num_classes,), -math.log(num_classes))
        self.register_buffer("log_prior", torch.as_tensor(log_prior, dtype=torch.float32).clone())

    @property
    def num_classes(self) -> int:
        return self.label_embedding.num_embeddings

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """LSTM states that predict each real next token: (states (N, H), targets (N,), doc (N,)).

        Position t reads x_<=t and predicts x_{t+1}; only the N real (non-padding) targets are
        kept, so no softmax work is spent on padding.
        """
        out, _ = self.lstm(self.lstm_input(self.dropout(self.embedding(ids[:, :-1]))))
        out = self.dropout(out)
        steps = torch.arange(ids.size(1) - 1, device=ids.device)
        mask = steps[None, :] < (lengths.to(ids.device) - 1)[:, None]
        doc = torch.arange(ids.size(0), device=ids.device)[:, None].expand_as(mask)
        return out[mask], ids[:, 1:][mask], doc[mask]

    def token_log_probs(self, states: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """log p(target | prefix, label) for each of the N positions."""
        logits = self.decoder(self.head_input(torch.cat([states, self.label_embedding(labels)], dim=-1)))
        return logits.log_softmax(-1).gather(-1, targets[:, None]).squeeze(-1)

    def log_likelihood(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, K) log p(x | y) for every label: one LSTM pass, K decoder passes."""
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
        """`log_likelihood` with one decoder product for every label (lstmptq.models.decoding); equal up
        to float rounding, K times less decoder work. Float models only: it splits the decoder input."""
        states, targets, doc = self.encode(ids, lengths)
        hidden = states.size(1)
        weight = self.decoder.weight
        label_logits = F.linear(self.label_embedding.weight, weight[:, hidden:], self.decoder.bias)
        return document_scores(self.head_input(states), targets, doc, ids.size(0), weight[:, :hidden], label_logits)

    def class_scores(self, ids, lengths):
        if self.per_label_decoder:
            return self.log_likelihood(ids, lengths) + self.log_prior
        return self.shared_decoder_log_likelihood(ids, lengths) + self.log_prior


def log_prior_from(config: str, train_labels, num_classes: int) -> torch.Tensor:
    """log p(y): uniform, or the empirical train label frequencies."""
    if config == "uniform":
        return torch.full((num_classes,), -math.log(num_classes))
    if config == "empirical":
        counts = torch.bincount(torch.tensor(train_labels, dtype=torch.long), minlength=num_classes).double()
        return (counts / counts.sum()).log().float()
    raise ValueError(f"model.prior must be 'uniform' or 'empirical', not {config!r}")
