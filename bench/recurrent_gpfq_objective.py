"""Does GPFQ on the LSTM (`gpfq_lstm`) do what it optimises, and does that survive the recurrence?

For one PTQ cell's setting (an FP32 model, its calibration subset, a scheme) it compares, for the
LSTM gates' [W_ih | W_hh], nearest rounding with GPFQ on the objective GPFQ minimises: the gate
pre-activations' squared error sum ||X W^T - X~ (s Q)^T||^2 over the calibration positions,
X the FP32 model's gate inputs, X~ the quantized model's:

- `objective_*_on_nearest_trajectory`: with X~ from the nearest-rounded LSTM (what GPFQ sees);
- `objective_*_on_own_trajectory`: with X~ from the LSTM as rounded (nearest, or GPFQ), i.e. the
  trajectory the rounded model really follows (h~ depends on the weights: the recurrence).

Reported relative to ||X W^T||^2 (the gate pre-activations' energy). Then the accuracy on the
cell's verification sample of the model with the LSTM rounded to nearest, by GPFQ alone, and by
GPFQ followed by the final layer's GPFQ (what `gpfq_lstm` does). One `name: value` line each:

    python bench/recurrent_gpfq_objective.py results/bbc_news generative 0 balanced w4c16
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import lstmptq.quant.build as build
import lstmptq.quant.lstm.build as lstm_build
import lstmptq.quant.lstm.gpfq as lstm_gpfq
import lstmptq.quant.methods as methods
import lstmptq.quant.passes as passes


def objective(weight, scale, integers, statistics, energy) -> float:
    """||X W^T - X~ (s Q)^T||^2 / ||X W^T||^2 from the Gram statistics: the X-only term is the energy."""
    W, S, Q = weight.double(), scale.double()[:, None], integers.double()
    SQ = S * Q
    cross = (W @ statistics.G.T * SQ).sum()  # sum_r w_r^T X^T X~ (s q_r)
    quadratic = (SQ @ statistics.H * SQ).sum()
    return float((energy - 2 * cross + quadratic) / energy)


def main() -> None:
    from lstmptq.grid import path
    from lstmptq.models.training import predict
    from lstmptq.scheme import parse
    from lstmptq.stages.ptq import load

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_dir", type=Path, help="results/<dataset> of a finished run")
    parser.add_argument("model")
    parser.add_argument("seed", type=int)
    parser.add_argument("strategy")
    parser.add_argument("scheme")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root, dataset = args.dataset_dir.parent.parent, args.dataset_dir.name

    def file(kind, **values):
        return root / path(kind, dataset=dataset, model=args.model, seed=args.seed, strategy=args.strategy, **values)

    cell = load(
        file("model"),
        file("fp32_metrics"),
        file("tokens", split="train"),
        file("tokens", split="test"),
        file("calibration"),
        32,
        "cpu",
    )
    plan = build.Plan(parse(args.scheme), 99.99)
    sample = cell.documents(cell.sample)

    def calibrated(final_layer_gpfq: bool | None):
        """The cell's model calibrated, its LSTM rounded to nearest (None) or by GPFQ, with or
        without the final layer's GPFQ after it."""
        q = build.quantize_model(cell.model, plan)
        methods.set_thresholds(q, passes.thresholds(q, cell.batches, plan))
        if final_layer_gpfq is not None:
            apply_final_layer = methods.apply_gpfq
            if not final_layer_gpfq:
                methods.apply_gpfq = lambda *args: None  # apply_gpfq_lstm ends with it
            try:
                lstm_gpfq.apply_gpfq_lstm(q, cell.family, cell.batches)
            finally:
                methods.apply_gpfq = apply_final_layer
        return q

    models = {
        "nearest": calibrated(None),
        "lstm_gpfq_only": calibrated(False),
        "lstm_then_final_layer_gpfq": calibrated(True),
    }
    weight, nearest = lstm_build.lstm_gate_matrix(models["nearest"].lstm)
    rounded = lstm_build.lstm_gate_matrix(models["lstm_gpfq_only"].lstm)[1].integers
    scale = nearest.scale.repeat_interleave(weight.shape[0] // nearest.scale.numel())
    fp32 = {
        "lstm.weight_ih": cell.model.lstm.weight_ih_l0.detach(),
        "lstm.weight_hh": cell.model.lstm.weight_hh_l0.detach(),
    }
    on_nearest = lstm_gpfq.lstm_gate_inputs(models["nearest"], cell.batches, weight.shape[1])
    on_gpfq = lstm_gpfq.lstm_gate_inputs(models["lstm_gpfq_only"], cell.batches, weight.shape[1], fp32)
    # ||X W^T||^2 = sum_r w_r^T (X^T X) w_r: X^T X is H of the all-float scheme, whose "quantized"
    # inputs are the float ones (the float trajectory does not depend on the rounding)
    float_only = lstm_gpfq.lstm_gate_inputs(
        build.quantize_model(cell.model, build.Plan(parse("wf"), 99.99)), cell.batches, weight.shape[1]
    )
    energy = float((weight.double() @ float_only.H * weight.double()).sum())
    print(
        f"objective_nearest_on_nearest_trajectory: {objective(weight, scale, nearest.integers, on_nearest, energy):.4f}"
    )
    print(f"objective_gpfq_on_nearest_trajectory: {objective(weight, scale, rounded, on_nearest, energy):.4f}")
    print(f"objective_gpfq_on_own_trajectory: {objective(weight, scale, rounded, on_gpfq, energy):.4f}")
    print(f"weights_changed_share: {float((rounded != nearest.integers).double().mean()):.4f}")
    for variant, q in models.items():
        predictions, _ = predict(q, sample, 32, "cpu")
        print(f"sample_accuracy_{variant}: {float((predictions == sample.labels).mean()):.4f}")


if __name__ == "__main__":
    main()
