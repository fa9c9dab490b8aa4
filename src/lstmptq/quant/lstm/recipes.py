"""The LSTM families' recipes (lstmptq.recipes): what "N bits" meant in the paper's code, and in
the study's uniform setting. Stdlib only. docs/paper-recipe.md traces every setting to the
authors' code (GitHub MushfiqShovon/ptq_gendisc: ptq_common.py, GenQuant3.py, DiscQuant_UE.py).
"""

from __future__ import annotations

from lstmptq.recipes import UNIFORM, Recipe

BREVITAS_DEFAULT_PERCENTILE = 99.999  # Int8ActPerTensorFloat's high_percentile_q: the paper's LSTM internals
# The paper's final-layer input: 99.99 in GenQuant3.py, 99.9 in DiscQuant_UE.py
PAPER_FINAL_INPUT = {"generative": 99.99, "discriminative": 99.9}
# Brevitas' defaults inside the LSTM: x_t and h_t share the io quantizer, every cell quantizer at 8 bits
PAPER_PERCENTILES = {"a": PAPER_FINAL_INPUT, **dict.fromkeys("hgscx", BREVITAS_DEFAULT_PERCENTILE)}

RECIPES = {
    "paper": Recipe(
        "the authors' code: N-bit full-range weights (embeddings, LSTM, final layer) and final-layer input; "
        "the LSTM's quantizers at Brevitas' 8-bit defaults, x_t and h_t on one io quantizer",
        "w{bits}uh8g8s8c8xh",
        PAPER_PERCENTILES,
    ),
    "paper_split": Recipe(
        "as `paper`, but x_t on an 8-bit quantizer of its own (not h_t's)",
        "w{bits}uh8g8s8c8x8",
        PAPER_PERCENTILES,
    ),
    "uniform": UNIFORM,
}
