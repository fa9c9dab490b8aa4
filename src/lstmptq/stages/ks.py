"""KS stage: Kolmogorov-Smirnov statistics of one (dataset, classifier, seed, method, recipe, bit width)
across calibration strategies, and the signal health of the final representation."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lstmptq.evaluation import ks
from lstmptq.grid import FP32
from lstmptq.io import read_frame, write_frame, write_json
from lstmptq.models.checkpoint import load_checkpoint
from lstmptq.models.training import Encoded
from lstmptq.quant import artifact
from lstmptq.registry import family
from lstmptq.runtime import set_threads

log = logging.getLogger(__name__)


def ks_statistics(
    checkpoint: str | Path,
    test_tokens: str | Path,
    artifact_files: dict[str, str],
    out_table: str | Path,
    out_signal: str | Path,
    bits: int,
    method: str,
    probe_size: int,
    batch_size: int,
    threads: int = 1,
    recipe: str = "uniform",
) -> pd.DataFrame:
    """FP32 vs quantized (per strategy), pre- vs post-calibration and strategy vs strategy, on
    the family's probes (`activations`, `weights`) of a fixed, seeded set of test documents.

    The quantized models are the PTQ cells' artifacts, run by the engine (bit-identical to
    Brevitas in the LSTM, checked in every PTQ cell), so no Brevitas here; the uncalibrated
    model is the same artifact with calibration and the PTQ method undone
    (artifact.before_calibration, tested equal to Brevitas' own)."""
    set_threads(threads)
    model, meta = load_checkpoint(checkpoint)
    model.eval()
    probes = family(meta["kind"])
    test = Encoded.from_frame(read_frame(test_tokens))
    probe_index = np.sort(
        np.random.default_rng(meta["seed"]).choice(len(test), size=min(probe_size, len(test)), replace=False)
    )
    probe = Encoded([test.ids[i] for i in probe_index], test.labels[probe_index])

    def activations(m):
        acts = probes.activations(m, probe, batch_size)
        return acts, acts.pop("signal")

    fp32_acts, fp32_signal = activations(model)
    tensors = list(fp32_acts)
    fp32_weights = probes.weights(model)
    signal = {FP32: ks.signal_health(fp32_signal)}
    rows: list[dict] = []
    quant_acts = {}
    artifacts = {strategy: artifact.read(path, kind=meta["kind"]) for strategy, path in artifact_files.items()}
    for strategy, quantized in artifacts.items():
        quant_acts[strategy], quant_signal = activations(probes.engine(quantized).eval())
        signal[strategy] = ks.signal_health(quant_signal)
        ks.compare(rows, "fp32_vs_quantized", strategy, fp32_acts, quant_acts[strategy], tensors)
        ks.compare(rows, "fp32_vs_quantized", strategy, fp32_weights, ks.artifact_weights(quantized), fp32_weights)
    # the strategies' artifacts differ only in what calibration and the PTQ method set; undo both on any
    state = model.state_dict()
    changeable = {
        f"{probes.GPFQ_LAYER}.weight": state[f"{probes.GPFQ_LAYER}.weight"]
    }  # what PTQ methods round (gpfq_lstm: the LSTM too)
    if "lstm.weight_ih_l0" in state:
        changeable.update({"lstm.weight_ih": state["lstm.weight_ih_l0"], "lstm.weight_hh": state["lstm.weight_hh_l0"]})
    uncalibrated = artifact.before_calibration(next(iter(artifacts.values())), changeable)
    pre, _ = activations(probes.engine(uncalibrated).eval())
    for strategy, acts in quant_acts.items():
        ks.compare(rows, "pre_vs_post_calibration", strategy, pre, acts, tensors)
    for first, second in itertools.combinations(quant_acts, 2):
        ks.compare(rows, f"{first}_vs_{second}", "", quant_acts[first], quant_acts[second], tensors)

    table = pd.DataFrame(rows).assign(
        model=meta["kind"], seed=meta["seed"], method=method, recipe=recipe, bits=bits, probe_documents=len(probe)
    )
    write_frame(out_table, table)
    write_json(
        out_signal,
        {
            "model": meta["kind"],
            "seed": meta["seed"],
            "method": method,
            "recipe": recipe,
            "bits": bits,
            "signal": signal,
        },
    )
    log.info(
        "\n%s",
        table.pivot_table(index=["tensor"], columns=["comparison", "strategy"], values="ks").round(3).to_string(),
    )
    log.info("signal health: %s", signal)
    return table
