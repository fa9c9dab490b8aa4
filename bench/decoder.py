"""How fast is the generative decoder's scoring (lstmptq.models.decoding), tiled against one
product over the whole vocabulary, and how far apart are their scores?

Scores random positions of the study's shapes (default: the embedded data's vocabulary of
7,375 words, hidden size 100, 5 labels, batches of 64 documents of 81 positions) at one thread,
the two layouts interleaved, and prints `name: value` lines: ms per document (median of
--repeats), the GEMM rate each reaches, the speed-up, and the largest score difference:

    python bench/decoder.py [--vocab 7375] [--hidden 100] [--labels 5] [--repeats 7]

`untiled` is the layout before the tiles: 2**24 logits per chunk, the whole vocabulary in one
product (what the code did until December 2026).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lstmptq.models.decoding import document_scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=7375)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--labels", type=int, default=5)
    parser.add_argument("--documents", type=int, default=64)
    parser.add_argument("--positions", type=int, default=81)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, vocab = args.documents * args.positions, args.vocab
    states = torch.randn(n, args.hidden) * 0.3
    weight = torch.randn(vocab, args.hidden) * 0.1
    label_logits = torch.randn(args.labels, vocab) * 0.1
    targets = torch.randint(0, vocab, (n,))
    doc = torch.arange(n) // args.positions
    layouts = {"tiled": {}, "untiled": {"rows": max(1, 2**24 // vocab), "vocab_block": vocab}}
    seconds = {name: [] for name in layouts}
    scores = {}
    for _ in range(args.repeats + 1):  # the first round warms up
        for name, tile in layouts.items():
            start = time.perf_counter()
            scores[name] = document_scores(states, targets, doc, args.documents, weight, label_logits, **tile)
            seconds[name].append(time.perf_counter() - start)
    flops = 2 * n * vocab * (args.hidden + args.labels)
    for name in layouts:
        median = statistics.median(seconds[name][1:])
        print(f"decoder/{name}/ms_per_document: {1e3 * median / args.documents:.3f}")
        print(f"decoder/{name}/gemm_gflop_per_s: {flops / median / 1e9:.1f}")
    speedup = statistics.median(seconds["untiled"][1:]) / statistics.median(seconds["tiled"][1:])
    print(f"decoder/speedup: {speedup:.2f}")
    difference = (scores["tiled"] - scores["untiled"]).abs()
    print(f"decoder/max_abs_score_difference: {difference.max().item():.3g}")
    print(f"decoder/max_relative_score_difference: {(difference / scores['untiled'].abs()).max().item():.3g}")


if __name__ == "__main__":
    main()
