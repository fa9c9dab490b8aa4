"""The LSTM cell's quantizers: the one table that the scheme grammar, the Brevitas builder, the
fast passes and the engine read. Stdlib only (the grid parses schemes before the DAG is built).

Brevitas' QuantLSTM cell calls eleven activation quantizers per timestep (attribute
``<name>_quant`` of its cell); a constructor argument builds each (one argument may build
several), and each belongs to one scheme class. To give quantizers a class of their own, add the
letter to CLASSES and point the quantizers at it here: the grammar, the builder (one setting per
constructor argument), the passes and the engine follow.
"""

from __future__ import annotations

from dataclasses import dataclass

GATES = ("input", "forget", "cell", "output")  # nn.LSTM's row order: i, f, g, o

# The LSTM's own scheme classes (beside `w` weights and `a` layer inputs, which every family has).
CLASSES = {
    "h": "hidden state",
    "g": "gate accumulators",
    "s": "sigmoid/tanh outputs",
    "c": "cell state",
    "x": "LSTM input",
}
BOUNDED = ("s",)  # classes whose values lie in [-1, 1]: the fixed scale `k` applies to them only
INPUT = "lstm_input"  # the LSTM input x_t's quantizer (a QuantIdentity before the LSTM), class x
# x_t may share h_t's quantizer (`xh`): QuantLSTM's default, one io quantizer for both (the
# paper's code); the builder then lets QuantLSTM quantize its input, the passes observe x_t and
# h_t into one statistic, and the artifact stores that quantizer for x_t too.
SHARES = {"x": "h"}


@dataclass(frozen=True)
class CellQuantizer:
    """One of QuantLSTM's cell quantizers: its scheme class, the QuantLSTM argument that builds
    it, and whether it is signed."""

    letter: str
    argument: str
    signed: bool = True


CELL_QUANTIZERS = {
    "input_acc": CellQuantizer("g", "gate_acc_quant"),
    "forget_acc": CellQuantizer("g", "gate_acc_quant"),
    "cell_acc": CellQuantizer("g", "gate_acc_quant"),
    "output_acc": CellQuantizer("g", "gate_acc_quant"),
    "input_sigmoid": CellQuantizer("s", "sigmoid_quant", signed=False),
    "forget_sigmoid": CellQuantizer("s", "sigmoid_quant", signed=False),
    "output_sigmoid": CellQuantizer("s", "sigmoid_quant", signed=False),
    "cell_tanh": CellQuantizer("s", "tanh_quant"),
    "cell_state": CellQuantizer("c", "cell_state_quant"),
    "hidden_state_tanh": CellQuantizer("s", "tanh_quant"),
    "output": CellQuantizer("h", "io_quant"),  # h_t; the LSTM input has a quantizer of its own
}

# The engine's gate row order i, f, o, g: one sigmoid covers a contiguous 3H slice.
ENGINE_GATES = ("input", "forget", "output", "cell")
SIGMOIDS = tuple(f"{gate}_sigmoid" for gate in ENGINE_GATES[:3])


def quantizer_class(name: str) -> str | None:
    """The scheme class of an LSTM quantizer named as in the artifact (`lstm.cell_state`,
    `lstm_input`); None for a name that is not one of the LSTM's."""
    if name == INPUT:
        return "x"
    prefix, _, quantizer = name.partition(".")
    entry = CELL_QUANTIZERS.get(quantizer) if prefix == "lstm" else None
    return entry.letter if entry else None
