"""Quantization schemes: which bit width, scale statistic and granularity each quantizer class
gets, named compactly enough to be a path part and a table value. Stdlib only (the grid and the
config checks read it before the DAG is built).

A scheme name is a sequence of class tokens ``<class><bits>[<modifiers>]``:

- classes: ``w`` weights (every layer), ``a`` layer inputs (the final layer's input; also the
  default of the classes below), ``h`` the hidden state h_t (it feeds the next step and the final
  layer), ``g`` gate accumulators, ``s`` sigmoid and tanh outputs, ``c`` cell state, ``x`` the
  LSTM input x_t (the LSTM's classes, from its quantizer table in lstmptq/quant/lstm/cell.py);
  ``z`` attention scores, ``y`` attention probabilities, ``n`` the residual stream (the
  transformers' classes, lstmptq/quant/transformer/points.py; they default to ``a`` as well);
- bits: 2..16, or ``f`` for float (that quantizer is off), or another class's letter where the
  class may share that class's quantizer (cell.SHARES): ``xh``, x_t quantized by h_t's quantizer,
  one scale for both (Brevitas QuantLSTM's default io quantizer, as the paper's code ran it);
- modifiers: ``r`` per-output-row weight scales (``w`` only; one per gate row for the LSTM, per
  output row for linear layers; embeddings stay per tensor); ``u`` full-range weight integers
  (``w`` only: -2^(b-1)..2^(b-1)-1 with scale max|W| / 2^(b-1), as the paper's code quantizes
  weights, instead of the narrow +-(2^(b-1)-1)); a scale statistic for activations
  (registry.STATISTICS, one observer each in lstmptq/quant/observers.py):
  ``p`` percentile (Brevitas' running mean of per-call percentiles, the paper's; the default),
  ``m`` max |x| and ``e`` MSE-optimal scale, both over every value of the float statistics pass,
  ``k`` fixed analytic scale for ``s`` (sigmoid [0, 1], tanh [-1, 1]).

``w`` comes first and is required; ``a`` defaults to w's bits (statistic ``p``); ``h g s c x``
default to ``a``. So ``w4`` is everything at 4 bits (the `uniform` recipe), ``w4uh8g8s8c8xh`` the
paper's code at 4 bits (lstmptq/recipes.py), ``w3a8`` keeps 8-bit
activations, ``w4c16`` a 16-bit cell state, ``w4s4k`` fixed sigmoid/tanh scales, ``wfc3`` only the
cell state quantized (the rest float), ``w8a3h8g8s8c8`` only the layer inputs at 3 bits. Each scheme has exactly one
spelling (`parse` names the canonical one), so a cell has one path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from lstmptq import registry
from lstmptq.quant.lstm import cell
from lstmptq.quant.transformer import points as transformer

BITS = range(2, 17)  # what Brevitas, the packed artifact and the engine hold exactly
# `w` and `a` mean the same for every family; the LSTM cell's classes come from its table, the
# transformers' from theirs. A family names the classes it has quantizers of (`SCHEME_CLASSES`;
# without it, the LSTMs'): its tables describe and its sweeps vary only those.
CLASSES = {"w": "weights", "a": "layer inputs", **cell.CLASSES, **transformer.CLASSES}
ACTIVATION_DEFAULTED = (*cell.CLASSES, *transformer.CLASSES)  # classes that default to `a`
LSTM_CLASSES = ("w", "a", *cell.CLASSES)
STATISTIC_NAMES = {"p": "percentile", "m": "max", "e": "mse", "k": "fixed"}  # table names of the built-ins
SHARES = cell.SHARES  # class -> the class whose quantizer it may share (`xh`)
PER_ROW = "r"
FULL_RANGE = "u"  # weights: integers -2^(b-1)..2^(b-1)-1, scale max|W| / 2^(b-1) (the paper's code)
FLOAT = "f"
PATTERN = r"w(?:[0-9]+|f)[a-z0-9]*"  # the path wildcard's pattern; `parse` checks the rest


def statistics() -> dict[str, str]:
    """Scale statistics by modifier letter (registry.STATISTICS, extensions included): their
    table names, an extension's by its attribute."""
    return {
        letter: STATISTIC_NAMES.get(letter) or ref.rpartition(":")[2] for letter, ref in registry.STATISTICS.items()
    }


def statistic_problems() -> list[str]:
    """Statistic letters (extensions included) that a scheme name could not tell apart."""
    reserved = [*CLASSES, PER_ROW, FULL_RANGE, FLOAT]  # a shared token's "bits" is a class letter
    return [
        f"config key `extensions.statistics.{letter}`: a statistic is named by one lowercase letter, its scheme "
        f"modifier, other than {' '.join(reserved)} (the class letters, r per-row, u full range, f float)"
        for letter in registry.STATISTICS
        if not (len(letter) == 1 and letter.isalpha() and letter.islower() and letter not in reserved)
    ]


def _token() -> re.Pattern:
    modifiers = PER_ROW + FULL_RANGE + "".join(registry.STATISTICS)
    shared = "".join(sorted(set(SHARES.values())))
    return re.compile(rf"([{''.join(CLASSES)}])([0-9]+|{FLOAT}|[{shared}])([{modifiers}]*)")


class SchemeError(ValueError):
    """A scheme name that does not parse; the message says how to write it."""


@dataclass(frozen=True)
class Setting:
    """One quantizer class: bits (None: float), scale statistic, per-row weight scales,
    full-range weight integers, and the class whose quantizer it shares (`xh`: bits and statistic
    are then that class's)."""

    bits: int | None
    statistic: str = "p"
    per_row: bool = False
    full_range: bool = False
    shared: str | None = None

    @property
    def quantized(self) -> bool:
        return self.bits is not None

    def spelt(self, letter: str) -> str:
        if self.shared:
            return f"{letter}{self.shared}"
        bits = FLOAT if self.bits is None else str(self.bits)
        modifiers = (
            (PER_ROW if self.per_row else "")
            + (FULL_RANGE if self.full_range else "")
            + ("" if letter == "w" or self.statistic == "p" else self.statistic)
        )
        return f"{letter}{bits}{modifiers}"


@dataclass(frozen=True)
class Scheme:
    """A parsed scheme: one Setting per class (every class of CLASSES present)."""

    settings: dict[str, Setting]

    @property
    def name(self) -> str:
        """The canonical spelling: `w` always; `a` when it differs from the weights' bits or
        statistic; each other class when it differs from `a`."""
        w, a = self.settings["w"], self.settings["a"]
        parts = [w.spelt("w")]
        if a != Setting(w.bits):
            parts.append(a.spelt("a"))
        parts += [self.settings[c].spelt(c) for c in ACTIVATION_DEFAULTED if self.settings[c] != a]
        return "".join(parts)

    @property
    def weight_bits(self) -> int | None:
        return self.settings["w"].bits

    @property
    def uniform(self) -> bool:
        """The paper's setting: everything quantized at one bit width, default statistics."""
        return self.name == f"w{self.weight_bits}" and self.weight_bits is not None

    def with_class(self, letter: str, bits: int | None) -> Scheme:
        """The same scheme with one class at `bits` (for sensitivity sweeps): a class that shares
        its quantizer gets one of its own; classes sharing this one's follow it."""
        settings = {**self.settings, letter: replace(self.settings[letter], bits=bits, shared=None)}
        for sharer, setting in settings.items():
            if setting.shared == letter:
                settings[sharer] = replace(settings[letter], shared=letter)
        return Scheme(settings)

    def following_a(self, letters) -> Scheme:
        """The same scheme with the classes `letters` at `a`'s setting (their default): for sweeps
        over one family's classes, so that another family's classes keep their default spelling."""
        return Scheme({**self.settings, **{c: self.settings["a"] for c in letters if c != "a"}})

    def describe(self, letters: tuple[str, ...] | None = None) -> dict[str, str]:
        """Per class of `letters` (a family's SCHEME_CLASSES; default the LSTMs'), e.g.
        {"weights": "4", "cell state": "16", "sigmoid/tanh outputs": "4 fixed"}: for tables."""
        out = {}
        for letter, setting in self.settings.items():
            if letter not in (letters or LSTM_CLASSES):
                continue
            text = "float" if setting.bits is None else str(setting.bits)
            if setting.shared:
                text = f"{CLASSES[setting.shared]}'s quantizer"
            if setting.per_row:
                text += " per-row"
            if setting.full_range:
                text += " full-range"
            if letter != "w" and setting.statistic != "p" and setting.bits is not None:
                text += f" {statistics()[setting.statistic]}"
            out[CLASSES[letter]] = text
        return out


def uniform(bits: int) -> str:
    """Everything at `bits`: `w4`."""
    return f"w{bits}"


def parse(name: str) -> Scheme:
    """The Scheme of a name; raises SchemeError with the fix for a name that does not parse, uses
    a modifier where it means nothing, or is not the canonical spelling."""
    how = (
        "write e.g. w4, w3a8, w4c16, w4r, w4s4k or w4uh8g8s8c8xh "
        f"(class letters {' '.join(CLASSES)}, bits 2..16 or f; lstmptq/scheme.py)"
    )
    position, tokens, token = 0, [], _token()
    while position < len(name):
        match = token.match(name, position)
        if not match:
            raise SchemeError(f"quantization scheme {name!r}: cannot read {name[position:]!r}; {how}")
        tokens.append(match.groups())
        position = match.end()
    letters = [letter for letter, _, _ in tokens]
    if not letters or letters[0] != "w":
        raise SchemeError(f"quantization scheme {name!r}: start with the weights' bits (w<bits>); {how}")
    if len(set(letters)) != len(letters):
        raise SchemeError(f"quantization scheme {name!r}: a class appears twice; {how}")
    given: dict[str, Setting] = {}
    for letter, bits_text, modifiers in tokens:
        given[letter] = _setting(name, letter, bits_text, modifiers)
    w = given["w"]
    a = given.get("a", Setting(w.bits))
    settings = {"w": w, "a": a, **{c: given.get(c, a) for c in ACTIVATION_DEFAULTED}}
    for letter, setting in settings.items():
        if setting.shared:  # the shared class's bits and statistic, under this class's name
            settings[letter] = replace(settings[setting.shared], shared=setting.shared)
    for letter, setting in settings.items():
        if setting.statistic == "k" and letter not in cell.BOUNDED and setting.bits is not None:
            raise SchemeError(
                f"quantization scheme {name!r}: the fixed scale `k` is for "
                f"{'/'.join(CLASSES[c] for c in cell.BOUNDED)} ({' '.join(cell.BOUNDED)}) only; {how}"
            )
    scheme = Scheme(settings)
    if scheme.name != name:
        raise SchemeError(
            f"quantization scheme {name!r}: write it as {scheme.name!r} "
            "(each scheme has one spelling, so each cell has one path)"
        )
    return scheme


def canonical(name: str) -> str:
    """The canonical spelling of a scheme written in any order ("w4h8xhc8" -> "w4h8c8xh")."""
    try:
        return parse(name).name
    except SchemeError as err:
        if "write it as" not in str(err):
            raise
        return str(err).split("write it as '", 1)[1].split("'", 1)[0]


def _setting(name: str, letter: str, bits_text: str, modifiers: str) -> Setting:
    if bits_text.isalpha() and bits_text != FLOAT:  # `xh`: this class shares that one's quantizer
        if SHARES.get(letter) != bits_text:
            pairs = ", ".join(f"{c}{t}" for c, t in SHARES.items())
            raise SchemeError(
                f"quantization scheme {name!r}: {letter}{bits_text}: only {pairs} share a quantizer "
                f"({' '.join(f'{CLASSES[c]} with {CLASSES[t]}' for c, t in SHARES.items())})"
            )
        if modifiers:
            raise SchemeError(f"quantization scheme {name!r}: {letter}{bits_text} shares a quantizer; no modifiers")
        return Setting(None, shared=bits_text)
    bits = None if bits_text == FLOAT else int(bits_text)
    if bits is not None and bits not in BITS:
        raise SchemeError(
            f"quantization scheme {name!r}: {letter}{bits_text}: "
            f"bit widths run {BITS.start}..{BITS.stop - 1} (or f for float)"
        )
    per_row, full_range = PER_ROW in modifiers, FULL_RANGE in modifiers
    statistics = [m for m in modifiers if m in registry.STATISTICS]
    if per_row and letter != "w":
        raise SchemeError(f"quantization scheme {name!r}: per-row scales (r) are for weights (w) only")
    if full_range and letter != "w":
        raise SchemeError(f"quantization scheme {name!r}: full-range integers (u) are for weights (w) only")
    if statistics and letter == "w":
        raise SchemeError(
            f"quantization scheme {name!r}: weights take a max-|W| scale; "
            f"statistics ({' '.join(registry.STATISTICS)}) are for activations"
        )
    if (
        len(statistics) > 1
        or len(modifiers) != len(set(modifiers))
        or (
            modifiers
            and modifiers != (PER_ROW if per_row else "") + (FULL_RANGE if full_range else "") + "".join(statistics)
        )
    ):
        raise SchemeError(
            f"quantization scheme {name!r}: {letter}{bits_text}{modifiers}: "
            f"give at most r, then u, then one statistic ({' '.join(registry.STATISTICS)})"
        )
    if bits is None and (per_row or full_range or statistics):
        raise SchemeError(f"quantization scheme {name!r}: {letter}f is float; a float class takes no modifiers")
    return Setting(bits, statistics[0] if statistics else "p", per_row, full_range)


# ---- which class each quantizer of a model belongs to ---------------------------------------


def class_of(quantizer: str) -> str:
    """The class letter of a quantizer named as in the artifact: `*.weight` -> w, the LSTM's
    cell quantizers and the transformers' points by their tables (quant/lstm/cell.py,
    quant/transformer/points.py), any other activation -> a."""
    if quantizer.rsplit(".", 1)[-1].startswith("weight"):  # weight, weight_ih, weight_hh
        return "w"
    return cell.quantizer_class(quantizer) or transformer.quantizer_class(quantizer) or "a"


EMBEDDING_STAGE = ("embedding.weight", "label_embedding.weight", "lstm_input")


def stage_of(quantizer: str) -> str:
    """The stage (grid.STAGES) a quantizer belongs to, for methods that keep one stage at 8 bits:
    the LSTM's own, the embeddings and the LSTM input, everything else (the final layer's)."""
    if quantizer.startswith("lstm."):
        return "lstm"
    return "embedding" if quantizer in EMBEDDING_STAGE else "head"


def tokens(name: str) -> list[str]:
    """The class tokens of a scheme's canonical name: tokens("w4c16") == ["w4", "c16"]."""
    return ["".join(match.groups()) for match in _token().finditer(parse(name).name)]


def changes(name: str, base: str) -> int:
    """How many tokens `name` changes from `base` (a token added, dropped or modified counts one;
    other weight bits one more, since every class defaults to them):
    changes("w3c8", "w3") == changes("w3r", "w3") == changes("w3a8", "w3") == 1,
    changes("w4r", "w3") == changes("w4c8", "w3") == 2."""
    ours, theirs = set(tokens(name)), set(tokens(base))
    return max(len(ours - theirs), len(theirs - ours)) + (parse(name).weight_bits != parse(base).weight_bits)


def sensitivity_of(name: str) -> tuple[str, int | None, int | None] | None:
    """(class, its bits, the others' bits) where exactly one class differs from all the others
    and those agree (a sensitivity-sweep scheme such as w8c3 or wfc3), else None."""
    settings = parse(name).settings
    for letter, setting in settings.items():
        others = {s for c, s in settings.items() if c != letter}
        if len(others) == 1 and setting != next(iter(others)):
            return letter, setting.bits, next(iter(others)).bits
    return None
