"""Quantized inference in plain PyTorch, from the artifact alone (no Brevitas import).

Every quantization point is ``clamp(round(x / s), qmin, qmax) * s`` in fp32 (divide, round half to
even, clamp), at the same places and in the same order as Brevitas' quantized forward
(docs/brevitas-quantlstm-numerics.md). `FakeQuant` is that point; a family's `engine` builds its
model from them (the LSTMs': lstmptq.quant.lstm.engine); `load` gives the engine of an artifact,
checked against the model kind and vocabulary it will be fed; `agreement` compares its scores
with Brevitas' (every PTQ cell checks it, see stages.ptq.verify).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lstmptq.data.tokenizer import Tokenizer
from lstmptq.quant.artifact import Artifact, ArtifactError, activation_range, read
from lstmptq.registry import family


class FakeQuant(nn.Module):
    """One activation quantizer: scale (a 0-dim or broadcastable fp32 tensor) and integer range;
    without a scale, a float point that passes its input through (a scheme's `f`)."""

    def __init__(self, scale: torch.Tensor | None = None, bits: int | None = None, signed: bool = True):
        super().__init__()
        self.bits, self.signed = bits, signed
        self.register_buffer("scale", None if scale is None else scale.to(torch.float32))
        self.low, self.high = activation_range(bits, signed) if bits is not None else (None, None)

    @classmethod
    def of(cls, artifact: Artifact, name: str) -> FakeQuant:
        """The artifact's quantizer `name`, or a float point where the artifact has none."""
        return cls(*artifact.activations[name]) if name in artifact.activations else cls()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale is None:
            return x
        # x / s, not x * (1/s): Brevitas divides, and the two differ in the last bit
        return torch.round(x / self.scale).clamp_(self.low, self.high).mul_(self.scale)


def agreement(reference: np.ndarray, scores: np.ndarray, rel_tolerance: float = 1e-4) -> dict:
    """How the engine's (N, K) class scores compare with Brevitas' `reference` scores.

    `within_tolerance`: every score within rel_tolerance * (1 + |reference|). A prediction that
    differs is `explained` when Brevitas' own scores for the two labels are closer than twice the
    largest score difference (a tie broken by float rounding), else it counts as unexplained.
    """
    difference = np.abs(scores - reference)
    ours, theirs = scores.argmax(1), reference.argmax(1)
    differ = np.flatnonzero(ours != theirs)
    margins = np.abs(reference[differ, theirs[differ]] - reference[differ, ours[differ]])
    return {
        "max_abs_score_difference": float(difference.max()) if difference.size else 0.0,
        "within_tolerance": bool((difference <= rel_tolerance * (1 + np.abs(reference))).all()),
        "prediction_agreement": float(1 - len(differ) / max(len(reference), 1)),
        "disagreements": int(len(differ)),
        "unexplained_disagreements": int((margins > 2 * difference.max(initial=0.0)).sum()),
        "disagreement_margins": [float(m) for m in margins],
    }


def load(path: str | Path, *, kind: str | None = None, vocab_file: str | Path | None = None) -> nn.Module:
    """The engine for an artifact (its family's `engine`), checked against the model kind and
    vocabulary it will be fed."""
    fingerprint = None
    if vocab_file is not None:
        fingerprint = Tokenizer.load(vocab_file).sha256()
    artifact = read(path, kind=kind, vocab_sha256=fingerprint, vocab_file=str(vocab_file) if vocab_file else None)
    try:
        return family(artifact.kind).engine(artifact).eval()
    except (KeyError, RuntimeError) as err:  # a missing tensor or a shape that does not fit
        raise ArtifactError(
            f"{path}: inconsistent {artifact.kind} model ({type(err).__name__}: {err}); "
            "delete it and rebuild its PTQ cell"
        ) from err
