"""How fast is the generative decoder's scoring (lstmptq.models.decoding), tiled against one
product over the whole vocabulary, and how far apart are their scores?

Scores random positions of the study's shapes (default: the embedded data's vocabulary of
7,375 words, hidden size 100, 5 labels, batches of 64 documents of 81 positions) at one thread,
the two layouts interleaved, and prints `name: value` lines: ms per document (median of
--repeats), the GEMM rate each reaches, the speed-up, and the largest score difference:

    python bench/decoder.py [--vocab 7375] [--hidden 100] [--labels 5] [--repeats 7]
    python bench/decoder.py --run RUN [--seed 0] [--eps 0 0.05 0.1]

With `--run RUN` (a finished workflow folder) it also scores every generative model of the run,
FP32 checkpoints and PTQ artifacts (by the engine), on the clean test set and every noisy one
with both layouts, and prints how many predictions differ (`decoder/run/...`): the tables'
numbers change only where a prediction does.

`untiled` is the layout before the tiles: 2**24 logits per chunk, the whole vocabulary in one
product (what the code did until December 2026).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from lstmptq.models import decoding
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
    parser.add_argument("--run", type=Path, help="a finished workflow folder: count prediction changes on its models")
    parser.add_argument("--seed", default="*", help="with --run: only this seed's models (default all)")
    parser.add_argument("--eps", nargs="*", default=["*"], help="with --run: only these noise levels (default all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.run:
        prediction_changes(args.run, args.seed, args.eps)
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


def prediction_changes(run: Path, seed: str = "*", eps: list[str] = ("*",)) -> None:
    """Predictions of every generative model of `run` (of `seed`) on its test sets (at `eps`, as
    spelt in file names: 0, 0.05), tiled vs untiled."""
    import json

    from lstmptq.grid import path
    from lstmptq.io import read_frame
    from lstmptq.models.training import Encoded, predict
    from lstmptq.stages.noise import load_cell_model

    results = run / "results"
    models = [(m, None) for m in sorted(results.glob(f"*/generative/seed{seed}/fp32/model.pt"))]
    models += [(None, a) for a in sorted(results.glob(f"*/generative/seed{seed}/**/quantized.safetensors"))]
    tiles = {"tiled": (decoding.DECODER_ROWS, decoding.DECODER_VOCAB_BLOCK)}
    changed = documents = 0
    test_sets = {}
    for checkpoint, artifact in models:
        dataset = (checkpoint or artifact).relative_to(results).parts[0]
        vocab = run / path("vocab", dataset=dataset)
        if dataset not in test_sets:
            folder = (run / path("noisy", dataset=dataset, noise="x", eps="0")).parent.parent
            noisy = sorted(f for level in eps for f in folder.glob(f"*/eps{level}.parquet"))
            test_sets[dataset] = [Encoded.from_frame(read_frame(f)) for f in noisy]
            vocab_size = len(json.loads(vocab.read_text())["itos"])
            tiles["untiled"] = (max(1, 2**24 // vocab_size), vocab_size)  # the layout before the tiles
        model, _ = load_cell_model("generative", checkpoint, artifact, vocab if artifact else None)
        for data in test_sets[dataset]:
            predictions = {}
            for name, (rows, block) in tiles.items():
                decoding.DECODER_ROWS, decoding.DECODER_VOCAB_BLOCK = rows, block  # read at each call
                predictions[name], _ = predict(model, data, 64, torch.device("cpu"))
            decoding.DECODER_ROWS, decoding.DECODER_VOCAB_BLOCK = tiles["tiled"]
            changed += int((torch.as_tensor(predictions["tiled"]) != torch.as_tensor(predictions["untiled"])).sum())
            documents += len(data.labels)
    print(f"decoder/run/models: {len(models)}")
    print(f"decoder/run/predictions: {documents}")
    print(f"decoder/run/predictions_changed: {changed}")


if __name__ == "__main__":
    main()
