"""Discriminative transformer: pre-norm encoder -> mean of the real positions -> linear
(models.transformer.DiscriminativeTransformer)."""

ARCHITECTURE, KIND = (
    "transformer",
    "discriminative",
)  # findings compare kinds within an architecture
SETTINGS = ("transformer",)  # keys of the config's `model` block it reads (plus dropout.<name>)
SCHEME_CLASSES = ("w", "a", "z", "y", "n")  # the scheme classes it has quantizers of (lstmptq.scheme)
STAGES = ()  # no `-<stage>8` methods: the LSTM's stages (embedding, lstm, head) do not divide it
EXCLUDED_METHODS = ("gpfq_lstm",)  # GPFQ on QuantLSTM's gates: it has none
STATISTICS = ("p",)  # Brevitas calibrates its nested layers itself: the percentile only (quant.methods.calibrate)
GPU_STAGES = ("train",)
TRAIN_MINUTES_PER_EPOCH_MB = 0.05  # a first estimate (scheduler run time), to be measured
LOGITS_MEMORY = False
GPFQ_LAYER = "classifier"
# no RECIPES: `uniform` only (the LSTMs' paper recipe names LSTM quantizers; lstmptq.recipes)


def build(vocab_size: int, num_classes: int, settings: dict, train_labels=None):
    from lstmptq.models.transformer import DiscriminativeTransformer

    t = settings["transformer"]
    return DiscriminativeTransformer(
        vocab_size, num_classes, t["max_positions"], t["dim"], t["layers"], t["heads"], t["mlp_dim"],
        settings.get("dropout", 0.0),
    )  # fmt: skip


def quantize(model, plan):
    from lstmptq.quant.transformer.build import quantize_transformer

    return quantize_transformer(model, plan)


def export(qmodel, path, header: dict) -> int:
    from lstmptq.quant.transformer.build import export_transformer

    return export_transformer(qmodel, path, header)


def engine(artifact):
    from lstmptq.quant.transformer.engine import transformer_engine

    return transformer_engine(artifact)


def activations(model, data, batch_size: int):
    from lstmptq.evaluation.ks import transformer_activations

    return transformer_activations(model, data, batch_size)


def weights(model):
    from lstmptq.evaluation.ks import transformer_weights

    return transformer_weights(model)
