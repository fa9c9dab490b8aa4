"""A toy classifier family for tests/test_extensions_end_to_end.py: the mean of the word embeddings, then a
linear layer. Defined only here and registered from a config (`extensions.classifiers`), to
prove that a new family needs no edit of the package or the workflow."""

import torch
import torch.nn.functional as F
from torch import nn

from lstmptq.data.tokenizer import PAD_ID

SETTINGS = ("embedding_dim",)
GPU_STAGES = ()
TRAIN_MINUTES_PER_EPOCH_MB = 0.01
LOGITS_MEMORY = False
GPFQ_LAYER = "classifier"


def mean_of_real(vectors: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    real = (ids != PAD_ID).unsqueeze(-1).to(vectors.dtype)
    return (vectors * real).sum(1) / real.sum(1).clamp(min=1)


class MeanOfEmbeddings(nn.Module):
    kind = "bow"  # its registry name

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.head_input = nn.Identity()
        self.classifier = nn.Linear(embedding_dim, num_classes)
        self.dropout = nn.Dropout(dropout)

    def embed(self, ids):
        return self.embedding(ids)

    def forward(self, ids, lengths):
        return self.classifier(self.head_input(self.dropout(mean_of_real(self.embed(ids), ids))))

    def loss(self, ids, lengths, labels):
        return F.cross_entropy(self(ids, lengths), labels)

    def class_scores(self, ids, lengths):
        return self(ids, lengths).log_softmax(-1)


def build(vocab_size, num_classes, settings, train_labels=None):
    return MeanOfEmbeddings(vocab_size, num_classes, settings["embedding_dim"], settings.get("dropout", 0.0))


def quantize(model, plan):
    import copy

    from lstmptq.quant.build import quant_activation, quant_embedding, quant_linear

    q = copy.deepcopy(model).cpu().eval()
    q.embedding = quant_embedding(model.embedding, plan, "embedding.weight")
    q.head_input = quant_activation(plan, "head_input")
    q.classifier = quant_linear(model.classifier, plan, "classifier.weight")
    return q.eval()


def export(qmodel, path, header):
    from lstmptq.quant.artifact import write
    from lstmptq.quant.state import activation_of, weight_of

    weights = {"embedding.weight": weight_of(qmodel.embedding), "classifier.weight": weight_of(qmodel.classifier)}
    return write(
        path,
        {"kind": qmodel.kind, **header},
        weights,
        {"classifier.bias": qmodel.classifier.bias.detach()},
        {"head_input": activation_of(qmodel.head_input.act_quant)},
    )


class Engine(nn.Module):
    """The artifact in plain PyTorch: dequantized weights, one fake-quantized activation."""

    def __init__(self, artifact):
        from lstmptq.quant.engine import FakeQuant

        super().__init__()
        self.header, self.kind = artifact.header, artifact.kind
        self.register_buffer("embedding", artifact.weight("embedding.weight"))
        self.register_buffer("weight", artifact.weight("classifier.weight"))
        self.register_buffer("bias", artifact.floats["classifier.bias"])
        self.head_input = FakeQuant.of(artifact, "head_input")

    def embed(self, ids):
        return F.embedding(ids, self.embedding)

    @torch.no_grad()
    def class_scores(self, ids, lengths):
        pooled = mean_of_real(self.embed(ids), ids)
        return F.linear(self.head_input(pooled), self.weight, self.bias).log_softmax(-1)


def engine(artifact):
    return Engine(artifact)


@torch.no_grad()
def activations(model, data, batch_size):
    """KS probes of the FP32 model or its engine (both have `embed`): the embeddings of real
    tokens, the pooled vector the classifier reads, the scores; `signal` is |pooled|."""
    import numpy as np

    from lstmptq.models.training import collate, sorted_batches

    captured = {"embedding_output": [], "final_layer_input": [], "scores": [], "signal": []}
    model.eval()
    for index in sorted_batches(data.lengths, batch_size):
        ids, lengths, _ = collate(data, index, "cpu")
        embedded = model.embed(ids)
        pooled = model.head_input(mean_of_real(embedded, ids))
        captured["embedding_output"].append(embedded[ids != PAD_ID].flatten().numpy())
        captured["final_layer_input"].append(pooled.flatten().numpy())
        captured["scores"].append(model.class_scores(ids, lengths).flatten().numpy())
        captured["signal"].append(pooled.abs().flatten().numpy())
    return {name: np.concatenate(parts) for name, parts in captured.items()}


def weights(model):
    return {name: getattr(model, name).weight.detach().flatten().numpy() for name in ("embedding", "classifier")}
