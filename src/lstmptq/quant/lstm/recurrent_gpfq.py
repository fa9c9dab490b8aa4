"""GPFQ (greedy path-following quantization) for one weight matrix, in plain torch.

Meant for an LSTM's concatenated gate weights [W_ih | W_hh]: rows are the 4H gate rows, columns
the E + H inputs [x_t ; h_{t-1}], samples are all (document, timestep) pairs. The caller collects
the inputs the layer sees in the float model (X) and in the quantized model (X~) and feeds them to
`GramStatistics`; `gpfq` then picks integers column by column so that the quantized layer's
output on X~ tracks the float layer's output on X (Lybrand & Saab 2021), using only the Gram
matrices H = X~^T X~ and G = X~^T X (the memory-efficient form of Zhang, Zhou & Saab 2023).
See docs/recurrent-gpfq.md for the derivation and what the tests check.
"""

from __future__ import annotations

import torch


class GramStatistics:
    """Running H = X~^T X~ and G = X~^T X (C x C, float64), so no N-length vectors are kept.

    G[t, j] = <X~_t, X_j> is not symmetric: its row index is the quantized input.
    """

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.samples = 0
        self.H = torch.zeros(columns, columns, dtype=torch.float64)
        self.G = torch.zeros(columns, columns, dtype=torch.float64)

    def add(self, float_inputs: torch.Tensor, quant_inputs: torch.Tensor) -> None:
        """Add a batch: (n_i, C) inputs of the float and quantized model, same samples in the same order."""
        if float_inputs.shape != quant_inputs.shape or float_inputs.dim() != 2 or float_inputs.shape[1] != self.columns:
            raise ValueError(
                f"need two (n, {self.columns}) tensors, got {tuple(float_inputs.shape)} and {tuple(quant_inputs.shape)}"
            )
        x = float_inputs.detach().to(torch.float64)
        xq = quant_inputs.detach().to(torch.float64)
        self.H += xq.T @ xq
        self.G += xq.T @ x
        self.samples += x.shape[0]


def int_max(bits: int) -> int:
    """n = 2^(b-1) - 1: signed narrow-range integers lie in [-n, n]."""
    if bits < 2:
        raise ValueError(f"bits must be >= 2, got {bits}")
    return 2 ** (bits - 1) - 1


def _rows(weight: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 weight (R, C) and scale (R,); refuse shapes that would silently broadcast wrongly."""
    if weight.dim() != 2:
        raise ValueError(f"weight must be (R, C), got {tuple(weight.shape)}")
    s = torch.as_tensor(scale).detach().to(torch.float64)
    if s.shape != (weight.shape[0],):
        raise ValueError(f"scale must have shape ({weight.shape[0]},) (one per row), got {tuple(s.shape)}")
    if not bool((s > 0).all()):
        raise ValueError("scale must be positive")
    return weight.detach().to(torch.float64), s


def nearest(weight: torch.Tensor, scale: torch.Tensor, bits: int) -> torch.Tensor:
    """Q(w) = clamp(round(w / s_r), -n, n) as int32; divide (not multiply by 1/s) to match the runtime quantizer."""
    n = int_max(bits)
    w, s = _rows(weight, scale)
    return torch.clamp(torch.round(w / s[:, None]), -n, n).to(torch.int32)


def gpfq(
    weight: torch.Tensor,
    H: torch.Tensor,
    G: torch.Tensor,
    scale: torch.Tensor,
    bits: int,
    pinned: torch.Tensor | None = None,
) -> torch.Tensor:
    """GPFQ integers (int32, (R, C)) for `weight` from Gram matrices H = X~^T X~, G = X~^T X.

    Columns t = 0..C-1 in order, all rows at once, in float64:
        v_t = ( sum_{j<=t} w_j G[t, j] - s_r * sum_{j<t} q_j H[t, j] ) / H[t, t],   q_t = Q(v_t),
    which equals the direct form's <X~_t, u_{t-1} + w_t X_t> / ||X~_t||^2 without holding u.
    If H[t, t] == 0 (column t of X~ is always zero) q_t = 0, since nothing it does reaches the output.
    `pinned` (bool, (R, C)) entries take Q(w) and keep it; their error still feeds later columns.
    """
    n = int_max(bits)
    w, s = _rows(weight, scale)
    rows, cols = w.shape
    H = H.detach().to(torch.float64)
    G = G.detach().to(torch.float64)
    if H.shape != (cols, cols) or G.shape != (cols, cols):
        raise ValueError(f"H and G must be ({cols}, {cols}), got {tuple(H.shape)} and {tuple(G.shape)}")
    near = torch.clamp(torch.round(w / s[:, None]), -n, n)
    if pinned is not None and pinned.shape != w.shape:
        raise ValueError(f"pinned must have the weight's shape {tuple(w.shape)}, got {tuple(pinned.shape)}")
    q = torch.zeros_like(w)  # chosen integers, held as float64 for the matmuls below
    for t in range(cols):
        h = H[t, t]
        if h > 0:
            v = (w[:, : t + 1] @ G[t, : t + 1] - s * (q[:, :t] @ H[t, :t])) / h
            q[:, t] = torch.clamp(torch.round(v / s), -n, n)
        if pinned is not None:
            q[:, t] = torch.where(pinned[:, t], near[:, t], q[:, t])
    return q.to(torch.int32)
