"""Is BREVITAS_JIT=1 faster for this pipeline's PTQ cells, and does it give the same numbers?

Runs one PTQ workload (build a 4-bit model, calibrate on 64 training documents, score 64 test
documents) in fresh processes with BREVITAS_JIT=0 and =1 alternately, and prints one
`name: value` line per figure (medians over --repeats). Needs a finished FP32 model:
    python bench/brevitas_jit.py --model results/bbc_news/generative/seed0/fp32/model.pt
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOAD = r"""
import json, sys, time
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from lstmptq.models.checkpoint import load_checkpoint
from lstmptq.models.training import Encoded, collate, predict, sorted_batches
model, meta = load_checkpoint(sys.argv[1]); model.eval()
tokens = sys.argv[2]
train = Encoded.from_frame(pd.read_parquet(tokens + "/train.parquet"))
test = Encoded.from_frame(pd.read_parquet(tokens + "/test.parquet"))
sub = lambda d: Encoded(d.ids[:64], d.labels[:64])
calib, probe = sub(train), sub(test)
q = build.quantize_model(model, {s: 4 for s in quant.STAGES}, 99.99)
start = time.perf_counter()
methods.brevitas_calibrate(q, [collate(calib, b, "cpu")[:2] for b in sorted_batches(calib.lengths, 32)])
calibrate_s = time.perf_counter() - start
start = time.perf_counter()
_, scores = predict(q, probe, 32, "cpu")
score_s = time.perf_counter() - start
np.save(sys.argv[3], scores)
print(json.dumps({"calibrate_s": calibrate_s, "score_s": score_s}))
"""


def run(jit: str, model: str, tokens: str, out: str) -> dict:
    env = {**os.environ, "BREVITAS_JIT": jit}
    result = subprocess.run(
        [sys.executable, "-c", WORKLOAD, model, tokens, out], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", default=None, help="tokens folder (default: from the model path)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tokens = args.tokens or os.path.join(args.model.split("/")[0], args.model.split("/")[1], "tokens")
    import numpy as np

    times = {"0": [], "1": []}
    for _ in range(args.repeats):
        for jit in ("0", "1"):
            times[jit].append(run(jit, args.model, tokens, f"/tmp/jit{jit}.npy"))
    for jit, label in (("0", "eager"), ("1", "jit")):
        for key in ("calibrate_s", "score_s"):
            print(f"brevitas_{label}/{key}: {statistics.median(t[key] for t in times[jit]):.3f}")
    for key in ("calibrate_s", "score_s"):
        ratio = statistics.median(t[key] for t in times["0"]) / statistics.median(t[key] for t in times["1"])
        print(f"speedup_jit/{key}: {ratio:.2f}")
    print(
        "max_abs_score_difference_jit_vs_eager: "
        f"{np.abs(np.load('/tmp/jit0.npy') - np.load('/tmp/jit1.npy')).max():.3g}"
    )


if __name__ == "__main__":
    main()
