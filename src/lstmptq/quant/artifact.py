"""The quantized-model artifact: what a PTQ cell hands to inference, with no Brevitas and no pickle.

One safetensors file (`quantized.safetensors`). Its tensors:

- ``<weight>``: the integer weights packed at their bit width (uint8 bytes, see `pack`);
- ``<weight>.scale``: float32 weight scale, one per tensor (one per gate for the LSTM) or one
  per output row;
- ``<bias>``, ``log_prior`` and any weight a scheme keeps float: float32, unquantized;
- ``act.<quantizer>.scale``: float32 scale of each activation quantizer (a float one is absent).

Its metadata key ``lstmptq`` holds a JSON header: format and version, model kind, dimensions,
vocabulary size and fingerprint, label names, stage bit widths, each weight's shape and bits, each
activation quantizer's bits and signedness, where the model came from, and a SHA-256 over the
header and every tensor, so an edited or truncated file is refused rather than scored.
docs/quantized-artifact.md describes the format for readers outside this package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from lstmptq.grid import (
    BITS,  # packed storage and fp32 fake quantization are exact up to 16 bits
)
from lstmptq.io import atomic_path, content_sha256

FORMAT = "lstmptq.quantized-lstm-classifier"
VERSION = 1
METADATA_KEY = "lstmptq"


class ArtifactError(ValueError):
    """A quantized-model file that must not be scored; the message says what to do."""


def check_bits(bits: Any, what: str) -> int:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in BITS:
        raise ArtifactError(
            f"{what}: bit width {bits!r} is not supported (the engine runs {BITS.start}..{BITS.stop - 1} bits)"
        )
    return bits


def weight_range(bits: int, narrow: bool = True) -> tuple[int, int]:
    """Integer range of a signed weight: +-(2^(b-1) - 1) narrow (the study's), else
    [-2^(b-1), 2^(b-1) - 1] (a scheme's `u`: Brevitas' weight quantizer with narrow_range=False)."""
    n = 2 ** (bits - 1) - 1
    return (-n, n) if narrow else (-n - 1, n)


def activation_range(bits: int, signed: bool) -> tuple[int, int]:
    """Integer range of an activation: [-2^(b-1), 2^(b-1) - 1] signed, [0, 2^b - 1] unsigned."""
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def pack(values: torch.Tensor, bits: int, narrow: bool = True) -> torch.Tensor:
    """Integers -> bytes: each value stored as value - low (low: the range's least integer,
    -(2^(b-1) - 1) narrow, -2^(b-1) full range) in `bits` bits, least significant bit first, values
    in row-major order, the last byte zero-padded."""
    low, high = weight_range(bits, narrow)
    flat = values.reshape(-1).to(torch.int32).numpy()
    if flat.size and (flat.min() < low or flat.max() > high):
        raise ArtifactError(f"integer weights outside {low}..{high} cannot be stored in {bits} bits")
    unsigned = (flat - low).astype(np.uint32)
    planes = ((unsigned[:, None] >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.uint8)
    return torch.from_numpy(np.packbits(planes.reshape(-1), bitorder="little"))


def unpack(packed: torch.Tensor, bits: int, shape: list[int], narrow: bool = True) -> torch.Tensor:
    """Inverse of `pack`: int32 tensor of `shape`."""
    count = int(np.prod(shape))
    if packed.numel() != (count * bits + 7) // 8:
        raise ArtifactError(f"{packed.numel()} bytes cannot hold {count} {bits}-bit values")
    planes = np.unpackbits(packed.numpy(), count=count * bits, bitorder="little").reshape(count, bits)
    unsigned = np.zeros(count, dtype=np.int32)
    for bit in range(bits):
        unsigned |= planes[:, bit].astype(np.int32) << bit
    return torch.from_numpy(unsigned + weight_range(bits, narrow)[0]).reshape(shape)


@dataclass
class QuantizedWeight:
    """Integers (int32, any shape) and their scale(s); `scale` has one entry per row group;
    `narrow`: the integers' range (weight_range)."""

    integers: torch.Tensor
    scale: torch.Tensor
    bits: int
    narrow: bool = True

    def dequantized(self) -> torch.Tensor:
        """integers * scale in fp32, the scale repeated over equal row groups (LSTM gates)."""
        rows = self.integers.shape[0]
        scale = self.scale.reshape(-1).repeat_interleave(rows // self.scale.numel())
        return self.integers.to(torch.float32) * scale.reshape(-1, *([1] * (self.integers.dim() - 1)))


def nearest(weights: list[torch.Tensor], bits: int, groups: int = 1, narrow: bool = True) -> list[QuantizedWeight]:
    """A layer's weights rounded to nearest, as Brevitas' weight quantizer does before any PTQ
    method: one max-|W| scale per group of rows (1: per tensor; the row count: per row), taken
    jointly over `weights` (same rows; Brevitas' QuantLSTM shares a gate's scales between W_ih and
    W_hh), max-|W| / -low (2^(b-1) - 1 narrow, 2^(b-1) full range), clamped to the range."""
    joint = torch.cat(weights, 1)
    low, high = weight_range(bits, narrow)
    scale = joint.reshape(groups, -1).abs().amax(1) / -low
    integers = (
        torch.round(joint / scale.repeat_interleave(joint.shape[0] // groups)[:, None]).clamp(low, high).to(torch.int32)
    )
    return [QuantizedWeight(part, scale, bits, narrow) for part in integers.split([w.shape[1] for w in weights], 1)]


def initial_activation_scale(bits: int, signed: bool) -> torch.Tensor:
    """An activation quantizer's scale before calibration: Brevitas starts every threshold at 1.0,
    divided by the largest integer magnitude (2^(b-1) signed, 2^b - 1 unsigned)."""
    low, high = activation_range(bits, signed)
    return torch.tensor(1.0) / max(-low, high)


@dataclass
class Artifact:
    """A read (and verified) artifact: the header, weights, float tensors and activation quantizers."""

    path: Path
    header: dict[str, Any]
    weights: dict[str, QuantizedWeight]
    floats: dict[str, torch.Tensor]
    activations: dict[str, tuple[torch.Tensor, int, bool]]  # name -> (scale, bits, signed)

    @classmethod
    def assemble(cls, path, header: dict[str, Any], weights: dict, floats: dict, activations: dict) -> Artifact:
        """An artifact in memory from what `write` takes (float weights as tensors, float activations as None)."""
        return cls(path, header, *_split(weights, floats, activations))

    @property
    def kind(self) -> str:
        return self.header["kind"]

    def weight(self, name: str) -> torch.Tensor:
        """A weight as inference uses it: dequantized, or float where the scheme kept it so."""
        return self.weights[name].dequantized() if name in self.weights else self.floats[name]

    @property
    def weight_names(self) -> list[str]:
        """Every weight, quantized or float, in the order written."""
        return [*self.weights, *(name for name in self.floats if name.endswith("weight"))]


def before_calibration(calibrated: Artifact, fp32_weights: dict[str, torch.Tensor]) -> Artifact:
    """The same quantized graph as Brevitas builds it before calibration and before the PTQ method
    (KS' pre- vs post-calibration comparison): every activation at its initial scale, and the
    weights a PTQ method may change (`fp32_weights`, by artifact name) rounded to nearest from their
    FP32 values, the weights of one layer (`lstm.weight_ih`, `lstm.weight_hh`) jointly; the others
    are as calibration left them, untouched; float weights stay float. Equal to Brevitas' own
    uncalibrated model (tests/test_evaluation_ks.py)."""
    weights = dict(calibrated.weights)
    layers: dict[str, list[str]] = {}
    for name in fp32_weights:
        if name in weights:
            layers.setdefault(name.rsplit(".weight", 1)[0], []).append(name)
    for names in layers.values():
        first = weights[names[0]]
        rounded = nearest(
            [fp32_weights[n].detach().float() for n in names], first.bits, first.scale.numel(), first.narrow
        )
        weights.update(zip(names, rounded))
    activations = {
        name: (initial_activation_scale(bits, signed), bits, signed)
        for name, (_, bits, signed) in calibrated.activations.items()
    }
    return Artifact(calibrated.path, calibrated.header, weights, calibrated.floats, activations)


def _split(weights: dict, floats: dict, activations: dict) -> tuple[dict, dict, dict]:
    """Float weights (plain tensors) moved among the floats; float activations (None) left out."""
    floats = {**floats, **{name: w for name, w in weights.items() if isinstance(w, torch.Tensor)}}
    weights = {name: w for name, w in weights.items() if not isinstance(w, torch.Tensor)}
    return weights, floats, {name: a for name, a in activations.items() if a is not None}


def write(
    path: str | Path,
    header: dict[str, Any],
    weights: dict[str, QuantizedWeight | torch.Tensor],
    floats: dict[str, torch.Tensor],
    activations: dict[str, tuple[torch.Tensor, int, bool] | None],
) -> int:
    """Write the artifact atomically; returns its size in bytes. `header` gives kind, dims, vocab,
    labels, scheme and source; the weight and activation entries are added here. A weight given
    as a plain tensor is stored float; an activation given as None is float (absent)."""
    tensors: dict[str, torch.Tensor] = {}
    header = {"format": FORMAT, "version": VERSION, **header, "weights": {}, "activations": {}}
    weights, floats, activations = _split(weights, floats, activations)
    for name, weight in weights.items():
        check_bits(weight.bits, name)
        tensors[name] = pack(weight.integers, weight.bits, weight.narrow)
        tensors[f"{name}.scale"] = weight.scale.detach().to(torch.float32).reshape(-1).clone()
        header["weights"][name] = {"shape": list(weight.integers.shape), "bits": weight.bits}
        if not weight.narrow:  # absent: narrow, as every artifact before full-range weights
            header["weights"][name]["narrow"] = False
    for name, tensor in floats.items():
        tensors[name] = tensor.detach().to(torch.float32).contiguous().clone()
    for name, (scale, bits, signed) in activations.items():
        check_bits(bits, f"activation {name}")
        tensors[f"act.{name}.scale"] = scale.detach().to(torch.float32).reshape(()).clone()
        header["activations"][name] = {"bits": bits, "signed": signed}
    header["sha256"] = content_sha256(header, tensors)
    # no checksum file: the header holds the content's own (read() checks it), and the PTQ cell
    # writes into a temporary path of its own first (stages.ptq), whose name would get one
    with atomic_path(path, checksum=False) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(header)})
    return Path(path).stat().st_size


def read(
    path: str | Path, *, kind: str | None = None, vocab_sha256: str | None = None, vocab_file: str | None = None
) -> Artifact:
    """Read and verify an artifact. `kind` and `vocab_sha256` (from `vocab_file`) are what the
    caller will feed it; a mismatch, an edit, a truncation or an unsupported bit width raises."""
    path = Path(path)
    rebuild = f"delete it and rebuild its PTQ cell (snakemake {path} --force)"
    if not path.exists():
        raise FileNotFoundError(f"{path}: quantized model not found; build it with: snakemake {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception as err:  # safetensors raises its own error types for truncated or foreign files
        raise ArtifactError(
            f"{path}: not a readable safetensors file ({type(err).__name__}: {err}); {rebuild}"
        ) from err
    try:
        header = json.loads(metadata[METADATA_KEY])
    except (KeyError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path}: no lstmptq header; not a quantized model written by this pipeline") from err
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ArtifactError(
            f"{path}: format {header.get('format')!r} version {header.get('version')!r}; "
            f"this code reads {FORMAT!r} version {VERSION}; {rebuild}"
        )
    if header.get("sha256") != content_sha256(header, tensors):
        raise ArtifactError(
            f"{path}: content does not match its checksum (the file was edited or corrupted); {rebuild}"
        )
    if kind is not None and header["kind"] != kind:
        raise ArtifactError(
            f"{path}: holds a {header['kind']} model, but a {kind} model is expected here; "
            f"the file is misplaced: {rebuild}"
        )
    if vocab_sha256 is not None and header["vocab"]["sha256"] != vocab_sha256:
        raise ArtifactError(
            f"{path}: built for another vocabulary "
            f"({header['vocab']['size']} tokens, sha256 {header['vocab']['sha256'][:12]}) than "
            f"{vocab_file or 'the given one'} (sha256 {vocab_sha256[:12]}); token ids would mean other words: {rebuild}"
        )
    try:
        weights = {}
        for name, spec in header["weights"].items():
            bits = check_bits(spec["bits"], f"{path}: weight {name}")
            narrow = spec.get("narrow", True)
            weights[name] = QuantizedWeight(
                unpack(tensors.pop(name), bits, spec["shape"], narrow), tensors.pop(f"{name}.scale"), bits, narrow
            )
        activations = {}
        for name, spec in header["activations"].items():
            bits = check_bits(spec["bits"], f"{path}: activation {name}")
            activations[name] = (tensors.pop(f"act.{name}.scale"), bits, bool(spec["signed"]))
    except KeyError as err:
        raise ArtifactError(f"{path}: tensor {err} is missing; {rebuild}") from err
    return Artifact(path, header, weights, tensors, activations)
