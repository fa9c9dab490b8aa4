"""What it costs to extend the quantizer design space, counted on worked examples: each edit is
applied to a copy of the package, and a fresh interpreter runs a PTQ cell's numeric phases on it
(the scheme grammar, the Brevitas builder, the fast statistics pass, export and the engine) and
checks them against Brevitas. docs/extending.md walks through both edits."""

import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# A new quantizer class `t`: the LSTM's two tanh outputs get their own bits (today they share `s`
# with the sigmoids). One file: the cell's quantizer table.
NEW_CLASS = {
    "lstmptq/quant/lstm/cell.py": [
        ('    "x": "LSTM input",\n}', '    "x": "LSTM input",\n    "t": "tanh outputs",\n}'),
        ('BOUNDED = ("s",)', 'BOUNDED = ("s", "t")'),
        ('"cell_tanh": CellQuantizer("s", "tanh_quant")', '"cell_tanh": CellQuantizer("t", "tanh_quant")'),
        (
            '"hidden_state_tanh": CellQuantizer("s", "tanh_quant")',
            '"hidden_state_tanh": CellQuantizer("t", "tanh_quant")',
        ),
    ],
}

# A new scale statistic `q`: the 99th percentile of every value of the pass, pooled (not a mean of
# per-call percentiles). Two files: its observer and its registry line.
NEW_STATISTIC = {
    "lstmptq/quant/observers.py": [
        (
            "\n\ndef observer(",
            '''

class PooledPercentile(PooledMSE):
    """Statistic `q`: the 99th percentile of |x| over the values of the pass."""

    def threshold(self, bits: int, signed: bool) -> torch.Tensor | None:
        return None if self.max is None else torch.quantile(torch.cat(self.parts).abs(), 0.99).reshape(())


def observer(''',
        )
    ],
    "lstmptq/registry.py": [
        (
            '    "k": "lstmptq.quant.observers:Fixed",\n',
            '    "k": "lstmptq.quant.observers:Fixed",\n    "q": "lstmptq.quant.observers:PooledPercentile",\n',
        )
    ],
}

CHECK = """
import torch
from lstmptq.models.checkpoint import build_model
from lstmptq.models.training import Encoded, collate, predict, sorted_batches
from lstmptq.quant import engine, methods, passes, state
from lstmptq.quant.artifact import read
from lstmptq.quant.build import Plan, quantize_model
from lstmptq.registry import family
from lstmptq.scheme import parse
import numpy as np

SCHEME, EXPECT = {scheme!r}, {expect!r}
rng = np.random.default_rng(0)
docs = Encoded([np.array([2, *rng.integers(4, 30, size=rng.integers(2, 12)), 3]) for _ in range(48)],
               rng.integers(0, 3, size=48))
batches = [collate(docs, b, "cpu")[:2] for b in sorted_batches(docs.lengths, 16)]
torch.manual_seed(0)
model = build_model("discriminative", 30, 3, dict(embedding_dim=8, hidden_dim=8, dropout=0.0)).eval()
with torch.no_grad():
    model.lstm.weight_ih_l0.mul_(3)
    model.lstm.weight_hh_l0.mul_(3)
plan = Plan(parse(SCHEME), 99.99)
q = quantize_model(model, plan)
cell = q.lstm.layers[0][0].cell
bits = {{name: state.activation_spec(getattr(cell, name + "_quant"))[0] for name in EXPECT}}
assert bits == EXPECT, bits
methods.calibrate(q, batches, plan)  # the fast statistics pass
if all(s.statistic == "p" for s in plan.scheme.settings.values()):  # Brevitas knows the percentile only
    slow = quantize_model(model, plan)
    methods.brevitas_calibrate(slow, batches)
    assert state.activation_thresholds(slow) == state.activation_thresholds(q)
header = {{"vocab": {{"size": 30, "sha256": "0" * 64}}, "label_names": ["a", "b", "c"], "scheme": SCHEME}}
family("discriminative").export(q, "cell.safetensors", header)
_, brevitas_scores = predict(q, docs, 16, "cpu")
_, engine_scores = predict(engine.load("cell.safetensors", kind="discriminative"), docs, 16, "cpu")
check = engine.agreement(brevitas_scores, engine_scores)
assert check["within_tolerance"] and not check["unexplained_disagreements"], check
print("ok", parse(SCHEME).describe())
"""


def edited_copy(tmp_path: Path, edits: dict) -> tuple[Path, list[str]]:
    """The package copied to tmp_path with `edits` applied; the files that changed."""
    src = tmp_path / "src"
    shutil.copytree(SRC / "lstmptq", src / "lstmptq", ignore=shutil.ignore_patterns("__pycache__"))
    for file, replacements in edits.items():
        path = src / file
        text = path.read_text()
        for old, new in replacements:
            assert text.count(old) == 1, f"{file}: the worked example no longer applies ({old!r})"
            text = text.replace(old, new)
        path.write_text(text)
    changed = [
        str(p.relative_to(src))
        for p in sorted(src.rglob("*.py"))
        if p.read_bytes() != (SRC / p.relative_to(src)).read_bytes()
    ]
    return src, changed


def run_cell(tmp_path: Path, src: Path, scheme: str, expect: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(scheme=scheme, expect=expect)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_new_quantizer_class_touches_one_file(tmp_path):
    src, changed = edited_copy(tmp_path, NEW_CLASS)
    assert changed == ["lstmptq/quant/lstm/cell.py"]
    out = run_cell(tmp_path, src, "w4t8", {"cell_tanh": 8, "hidden_state_tanh": 8, "input_sigmoid": 4, "cell_state": 4})
    assert "'tanh outputs': '8'" in out and "'sigmoid/tanh outputs': '4'" in out


def test_a_new_statistic_touches_two_files(tmp_path):
    src, changed = edited_copy(tmp_path, NEW_STATISTIC)
    assert changed == ["lstmptq/quant/observers.py", "lstmptq/registry.py"]
    out = run_cell(tmp_path, src, "w4a4q", {"cell_state": 4})
    assert "'cell state': '4 PooledPercentile'" in out
