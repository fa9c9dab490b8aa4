"""Generative LSTM: a shared-LSTM class-conditional language model, p(x|y) p(y) (models.GenerativeLSTM)."""

from lstmptq.quant.lstm import recipes as lstm_recipes

RECIPES = lstm_recipes.RECIPES  # what N bits may mean for it: paper, paper_split, uniform (lstmptq.recipes)

ARCHITECTURE, KIND = "lstm", "generative"  # findings compare kinds within an architecture
SETTINGS = ("embedding_dim", "hidden_dim", "label_embedding_dim", "prior")
GPU_STAGES = ("train", "ptq", "evaluate")  # it scores every label with a vocabulary-sized softmax
TRAIN_MINUTES_PER_EPOCH_MB = 0.35
LOGITS_MEMORY = True  # batch x positions x vocabulary logits in training, PTQ and scoring

# the discriminative family's KS probes and weights serve both LSTMs
from lstmptq.families.discriminative import activations, weights  # noqa: E402,F401


def build(vocab_size: int, num_classes: int, settings: dict, train_labels=None):
    from lstmptq.models.lstm import GenerativeLSTM, log_prior_from

    log_prior = log_prior_from(settings["prior"], train_labels, num_classes) if train_labels is not None else None
    return GenerativeLSTM(
        vocab_size,
        num_classes,
        settings["embedding_dim"],
        settings["hidden_dim"],
        settings["label_embedding_dim"],
        log_prior,
        settings.get("dropout", 0.0),
    )


def quantize(model, plan):
    from lstmptq.quant.build import quant_embedding, quant_linear
    from lstmptq.quant.lstm.build import quantize_lstm_body

    q = quantize_lstm_body(model, plan)
    q.label_embedding = quant_embedding(model.label_embedding, plan, "label_embedding.weight")
    q.decoder = quant_linear(model.decoder, plan, "decoder.weight")
    q.per_label_decoder = True  # Brevitas' reference: one decoder call per label
    return q.eval()


GPFQ_LAYER = "decoder"


def export(qmodel, path, header: dict) -> int:
    from lstmptq.quant.lstm.build import export_lstm_artifact
    from lstmptq.quant.state import weight_of

    return export_lstm_artifact(
        qmodel,
        path,
        header,
        head=GPFQ_LAYER,
        weights={"label_embedding.weight": weight_of(qmodel.label_embedding)},
        floats={"log_prior": qmodel.log_prior},
    )


def engine(artifact):
    from lstmptq.quant.lstm.engine import QuantizedGenerative

    return QuantizedGenerative(artifact)
