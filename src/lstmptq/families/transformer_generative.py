"""Generative transformer: a causal language model with the shared label head, p(x|y) p(y)
(models.transformer.GenerativeTransformer)."""

ARCHITECTURE, KIND = "transformer", "generative"  # findings compare kinds within an architecture
SETTINGS = ("transformer", "prior")
SCHEME_CLASSES = ("w", "a", "z", "y", "n")
STAGES = ()  # no `-<stage>8` methods: the LSTM's stages (embedding, lstm, head) do not divide it
EXCLUDED_METHODS = ("gpfq_lstm",)  # GPFQ on QuantLSTM's gates: it has none
STATISTICS = ("p",)  # Brevitas calibrates its nested layers itself: the percentile only (quant.methods.calibrate)
GPU_STAGES = ("train", "ptq", "evaluate")  # a vocabulary-sized softmax per position and label
TRAIN_MINUTES_PER_EPOCH_MB = 0.35  # a first estimate (the generative LSTM's), to be measured
LOGITS_MEMORY = True
GPFQ_LAYER = "decoder"

# the discriminative transformer's quantization, engine and KS probes serve both
from lstmptq.families.transformer_discriminative import (  # noqa: E402,F401
    activations,
    engine,
    export,
    quantize,
    weights,
)


def build(vocab_size: int, num_classes: int, settings: dict, train_labels=None):
    from lstmptq.models.lstm import log_prior_from
    from lstmptq.models.transformer import GenerativeTransformer

    t = settings["transformer"]
    log_prior = log_prior_from(settings["prior"], train_labels, num_classes) if train_labels is not None else None
    return GenerativeTransformer(
        vocab_size, num_classes, t["max_positions"], t["dim"], t["layers"], t["heads"], t["mlp_dim"],
        t["label_embedding_dim"], log_prior, settings.get("dropout", 0.0),
    )  # fmt: skip
