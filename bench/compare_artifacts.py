"""Are two runs' quantized models the same? Compares every tensor of each PTQ cell's artifact
(`quantized.safetensors`: integer weights, scales, biases, activation scales) found in both runs,
and prints one `name: value` line per figure:

    python bench/compare_artifacts.py /path/to/run_before /path/to/run_after

- `cells_compared`, `cells_identical`: cells present in both runs, and those whose tensors are all
  equal bit for bit (the header's provenance and timings are not compared);
- `differing/<cell>`: the largest absolute difference over the tensors of a cell that differs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def tensors(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    compared = identical = 0
    for artifact in sorted(args.before.glob("results/**/quantized.safetensors")):
        other = args.after / artifact.relative_to(args.before)
        if not other.exists():
            continue
        a, b = tensors(artifact), tensors(other)
        compared += 1
        if a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a):
            identical += 1
            continue
        shared = [k for k in a if k in b and a[k].shape == b[k].shape]
        largest = max((float((a[k].double() - b[k].double()).abs().max()) for k in shared), default=float("nan"))
        print(f"differing/{artifact.parent.relative_to(args.before / 'results')}: {largest:.3g}")
    print(f"cells_compared: {compared}")
    print(f"cells_identical: {identical}")


if __name__ == "__main__":
    main()
