"""Discriminative LSTM: embedding -> LSTM -> hidden state at <eos> -> linear (models.DiscriminativeLSTM)."""

from lstmptq.quant.lstm import recipes as lstm_recipes

RECIPES = lstm_recipes.RECIPES  # what N bits may mean for it: paper, paper_split, uniform (lstmptq.recipes)

ARCHITECTURE, KIND = "lstm", "discriminative"  # findings compare kinds within an architecture
SETTINGS = ("embedding_dim", "hidden_dim")  # keys of the config's `model` block it reads (plus dropout.<name>)
GPU_STAGES = ("train",)  # jobs worth a GPU: its PTQ and noise cells are cheap on a CPU
TRAIN_MINUTES_PER_EPOCH_MB = 0.02  # measured on CPU, per MB of token files (scheduler run time)
LOGITS_MEMORY = False  # no batch x positions x vocabulary tensor


def build(vocab_size: int, num_classes: int, settings: dict, train_labels=None):
    from lstmptq.models.lstm import DiscriminativeLSTM

    return DiscriminativeLSTM(
        vocab_size, num_classes, settings["embedding_dim"], settings["hidden_dim"], settings.get("dropout", 0.0)
    )


def quantize(model, plan):
    from lstmptq.quant.build import quant_linear
    from lstmptq.quant.lstm.build import quantize_lstm_body

    q = quantize_lstm_body(model, plan)
    q.classifier = quant_linear(model.classifier, plan, "classifier.weight")
    return q.eval()


GPFQ_LAYER = "classifier"  # the final layer, the one GPFQ rounds


def export(qmodel, path, header: dict) -> int:
    from lstmptq.quant.lstm.build import export_lstm_artifact

    return export_lstm_artifact(qmodel, path, header, head=GPFQ_LAYER)


def engine(artifact):
    from lstmptq.quant.lstm.engine import QuantizedDiscriminative

    return QuantizedDiscriminative(artifact)


def activations(model, data, batch_size: int):
    from lstmptq.evaluation.ks import lstm_activations

    return lstm_activations(model, data, batch_size)


def weights(model):
    from lstmptq.evaluation.ks import lstm_weights

    return lstm_weights(model)
