"""The transformers' quantization points and their scheme classes: the table the scheme grammar,
the builder and the engine read. Stdlib only (the grid parses schemes before the DAG is built).

Every point is an identity module of the FP32 model (lstmptq.models.transformer) that PTQ swaps
for a Brevitas QuantIdentity, named in the artifact by its module path
(`body.blocks.0.scores`). Linear and matmul inputs are class `a`, as every family's layer inputs.
"""

from __future__ import annotations

# The transformers' own scheme classes (beside `w` weights and `a` layer inputs)
CLASSES = {
    "z": "attention scores",
    "y": "attention probabilities",
    "n": "residual stream",
}
POINT_CLASSES = {  # point name (its last path part) -> class; the others are `a`
    "scores": "z",
    "probabilities": "y",
    "embedding_output": "n",
    "attention_residual": "n",
    "mlp_residual": "n",
}
UNSIGNED = ("probabilities",)  # softmax outputs lie in [0, 1]: all integer levels on one side


def quantizer_class(name: str) -> str | None:
    """The scheme class of a transformer quantizer named as in the artifact; None for any other."""
    if not name.startswith("body."):
        return None
    return POINT_CLASSES.get(name.rsplit(".", 1)[-1])
