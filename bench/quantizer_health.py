"""Where does a quantized model lose its signal? Per activation quantizer of PTQ artifacts.

Runs each artifact with the engine on a seeded sample of the test set and, at every fake-quant
point (`engine.FakeQuant`: the LSTM input, the gate accumulators, sigmoid and tanh outputs, the
cell state, h, the head input), compares the quantizer's input x with its output q:

- `zero_share`: nonzero inputs that round to zero (|x| < scale / 2: the dead zone);
- `clipped_share`: inputs beyond the integer range;
- `sqnr_db`: 10 log10(sum x^2 / sum (x - q)^2), the quantizer's own noise (nan: no signal reached it).

Prints one `name: value` line per figure, e.g.

    python bench/quantizer_health.py results/bbc_news/discriminative/seed0/balanced/gpfq/w{3,4,8}/quantized.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmptq import engine
from lstmptq.training import Encoded, collate, sorted_batches


def health(artifact: Path, sample: Encoded, batch_size: int) -> dict[str, dict[str, float]]:
    model = engine.load(artifact).eval()
    sums: dict[str, np.ndarray] = {}  # inputs, nonzero inputs, rounded to zero, clipped, sum x^2, sum (x - q)^2

    def observe(name):
        def hook(module, inputs, output):
            x = inputs[0]
            levels = torch.round(x / module.scale)
            counts = [x.numel(), (x != 0).sum(), ((levels == 0) & (x != 0)).sum(), ((levels < module.low) | (levels > module.high)).sum(),
                      (x.double() ** 2).sum(), ((x - output).double() ** 2).sum()]  # fmt: skip
            sums[name] = sums.get(name, 0) + np.array([float(c) for c in counts])

        return hook

    quantizers = {name: module for name, module in model.named_modules() if isinstance(module, engine.FakeQuant)}
    handles = [module.register_forward_hook(observe(name)) for name, module in quantizers.items()]
    with torch.no_grad():
        for index in sorted_batches(sample.lengths, batch_size):
            ids, lengths, _ = collate(sample, index, "cpu")
            model.class_scores(ids, lengths)
    for handle in handles:
        handle.remove()
    out = {}
    np.seterr(divide="ignore")  # no quantization error at all: SQNR inf
    for name, (count, nonzero, zero, clipped, signal, noise) in sums.items():
        out[name] = {
            "zero_share": zero / nonzero if nonzero else float("nan"),
            "clipped_share": clipped / count,
            "sqnr_db": 10 * np.log10(signal / noise) if signal else float("nan"),
            "scale": float(quantizers[name].scale.flatten()[0]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs="+", type=Path, help="quantized.safetensors files of one dataset")
    parser.add_argument("--sample", type=int, default=64, help="test documents (seeded sample)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokens = args.artifacts[0].parents[5] / "tokens" / "test.parquet"  # results/<dataset>/<model>/seed<s>/<strategy>/<method>/w<b>/
    test = Encoded.from_frame(pd.read_parquet(tokens))
    index = np.sort(np.random.default_rng(0).permutation(len(test))[: args.sample])
    sample = Encoded([test.ids[i] for i in index], test.labels[index])
    for artifact in args.artifacts:
        cell = "/".join(artifact.parts[-6:-1])
        for quantizer, figures in health(artifact, sample, args.batch_size).items():
            for name, value in figures.items():
                print(f"{cell}/{quantizer}/{name}: {value:.4g}")


if __name__ == "__main__":
    main()
