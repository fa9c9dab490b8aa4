"""Plain-torch re-implementation of the Brevitas-quantized LSTM classifiers (brevitas 0.13.4).

Reads only q.state_dict() (+ the stage bit widths) and reproduces q.class_scores(ids, lengths).
Also re-implements calibration (mean of per-call |x| percentiles) from the float model and
compares the thresholds with the ones Brevitas stored.

Run from the repository root:  python docs/engine_probe/probe.py
"""

import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "src"))
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "tests"))
from lstmptq import quant  # noqa: E402
from lstmptq.models.checkpoint import build_model  # noqa: E402
from lstmptq.models.training import collate, sorted_batches  # noqa: E402
from test_quant import HP, K, V, batches, data  # noqa: E402

torch.set_num_threads(1)
SFX = ".fused_activation_quant_proxy.tensor_quant.scaling_impl.value"
CELL = "lstm.layers.0.0.cell."
GATES = ("input", "forget", "cell", "output")


# ----------------------------------------------------------------------------- quantizers
def q_weight(w, bits):
    """Int8WeightPerTensorFloat.let(bit_width=bits): narrow, signed, scale = max|W| / (2^(b-1)-1)."""
    n = 2 ** (bits - 1) - 1
    s = w.abs().max().clamp_min(1e-10) / n
    return torch.clamp(torch.round(w / s), -n, n) * s


def q_signed(x, thr, bits):
    """Int8ActPerTensorFloat: NOT narrow; scale = threshold / 2^(b-1); ints in [-2^(b-1), 2^(b-1)-1]."""
    lo = 2 ** (bits - 1)
    s = thr / lo
    return torch.clamp(torch.round(x / s), -lo, lo - 1) * s


def q_unsigned(x, thr, bits):
    """Uint8ActPerTensorFloat: scale = threshold / (2^b - 1); ints in [0, 2^b-1]."""
    hi = 2**bits - 1
    s = thr / hi
    return torch.clamp(torch.round(x / s), 0, hi) * s


class Engine:
    def __init__(self, sd, bits, kind, *, batched_ih=False, fused_gates=False):
        self.sd, self.kind = sd, kind
        self.be, self.bl, self.bh = (bits[s] for s in quant.STAGES)
        self.batched_ih, self.fused_gates = batched_ih, fused_gates
        t = lambda k: sd[k + SFX]  # noqa: E731  (0-dim fp32 thresholds)
        self.thr = {n: t(CELL + n) for n in ("output_quant", "cell_state_quant", "input_acc_quant", "forget_acc_quant",
                                              "cell_acc_quant", "output_acc_quant", "input_sigmoid_quant",
                                              "forget_sigmoid_quant", "cell_tanh_quant", "output_sigmoid_quant",
                                              "hidden_state_tanh_quant")}
        self.thr_lstm_in = t("lstm_input.act_quant")
        self.thr_head_in = t("head_input.act_quant")
        self.emb = q_weight(sd["embedding.weight"], self.be)
        P = "lstm.layers.0.0."
        self.Wi, self.Wh, self.b = {}, {}, {}
        for g in GATES:
            wi, wh = sd[f"{P}{g}_gate_params.input_weight.weight"], sd[f"{P}{g}_gate_params.hidden_weight.weight"]
            # ONE quantizer per gate, shared by W_ih and W_hh: scale from max over both tensors
            n = 2 ** (self.bl - 1) - 1
            s = torch.maximum(wi.abs().max(), wh.abs().max()).clamp_min(1e-10) / n
            self.Wi[g] = torch.clamp(torch.round(wi / s), -n, n) * s
            self.Wh[g] = torch.clamp(torch.round(wh / s), -n, n) * s
            self.b[g] = sd[f"{P}{g}_gate_params.bias"]  # float, = b_ih + b_hh
        self.Wi_cat = torch.cat([self.Wi[g] for g in GATES])
        self.Wh_cat = torch.cat([self.Wh[g] for g in GATES])
        if kind == "discriminative":
            self.Wc, self.bc = q_weight(sd["classifier.weight"], self.bh), sd["classifier.bias"]
        else:
            self.lab = q_weight(sd["label_embedding.weight"], self.be)
            self.Wd, self.bd = q_weight(sd["decoder.weight"], self.bh), sd["decoder.bias"]
            self.log_prior = sd["log_prior"]

    def lstm(self, x):  # x: (B, T, E) already lstm_input-quantized
        bl, th = self.bl, self.thr
        B, T, _ = x.shape
        H = self.Wh["input"].shape[0]
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H)
        if self.batched_ih:  # all timesteps at once (input is quantized before the loop)
            if self.fused_gates:
                ih_all = F.linear(x, self.Wi_cat).split(H, dim=-1)
            else:
                ih_all = [F.linear(x, self.Wi[g]) for g in GATES]
        outs = []
        for t in range(T):
            if self.batched_ih:
                ih = {g: ih_all[i][:, t] for i, g in enumerate(GATES)}
            else:
                ih = {g: F.linear(x[:, t], self.Wi[g]) for g in GATES}
            if self.fused_gates:
                hh_cat = F.linear(h, self.Wh_cat).split(H, dim=-1)
                hh = dict(zip(GATES, hh_cat))
            else:
                hh = {g: F.linear(h, self.Wh[g]) for g in GATES}
            acc = {g: q_signed(ih[g] + hh[g] + self.b[g], th[f"{g}_acc_quant"], bl) for g in GATES}
            i = q_unsigned(torch.sigmoid(acc["input"]), th["input_sigmoid_quant"], bl)
            f = q_unsigned(torch.sigmoid(acc["forget"]), th["forget_sigmoid_quant"], bl)
            g = q_signed(torch.tanh(acc["cell"]), th["cell_tanh_quant"], bl)
            o = q_unsigned(torch.sigmoid(acc["output"]), th["output_sigmoid_quant"], bl)
            cs = th["cell_state_quant"]
            fc = q_signed(f * c, cs, bl)
            ig = q_signed(i * g, cs, bl)
            c = q_signed(fc + ig, cs, bl)
            ht = q_signed(torch.tanh(c), th["hidden_state_tanh_quant"], bl)
            h = q_signed(o * ht, th["output_quant"], bl)
            outs.append(h)
        return torch.stack(outs, 1)

    def lstm_in(self, ids):
        return q_signed(F.embedding(ids, self.emb), self.thr_lstm_in, self.be)

    def class_scores(self, ids, lengths):
        if self.kind == "discriminative":
            out = self.lstm(self.lstm_in(ids))
            last = out[torch.arange(out.size(0)), lengths - 1]
            z = F.linear(q_signed(last, self.thr_head_in, self.bh), self.Wc, self.bc)
            return z.log_softmax(-1)
        out = self.lstm(self.lstm_in(ids[:, :-1]))
        steps = torch.arange(ids.size(1) - 1)
        mask = steps[None, :] < (lengths - 1)[:, None]
        doc = torch.arange(ids.size(0))[:, None].expand_as(mask)[mask]
        states, targets = out[mask], ids[:, 1:][mask]
        scores = states.new_zeros(ids.size(0), self.lab.shape[0])
        for y in range(self.lab.shape[0]):
            inp = torch.cat([states, self.lab[y].expand(states.size(0), -1)], dim=-1)
            lp = F.linear(q_signed(inp, self.thr_head_in, self.bh), self.Wd, self.bd).log_softmax(-1)
            scores[:, y].index_add_(0, doc, lp.gather(-1, targets[:, None]).squeeze(-1))
        return scores + self.log_prior


# ----------------------------------------------------------------------------- calibration replica
class Mean:  # Brevitas' running mean (momentum=None), incl. its exact update formula
    def __init__(self):
        self.buf, self.n = None, 0

    def add(self, x, q):
        a = x.abs().reshape(-1)
        k = int(math.floor(0.01 * q * a.numel() + 0.5))
        s = torch.kthvalue(a, k)[0].clamp_min(1e-10)
        if self.n == 0:
            self.buf = torch.ones(()) * s
        else:
            self.buf = self.buf * (self.n / (self.n + 1)) + s / (self.n + 1)
        self.n += 1


def calibrate_replica(model, cal_batches, q):
    """Thresholds from the FP32 model: calibration runs with every quantizer off (weights too)."""
    st = {k: Mean() for k in ["lstm_input", "head_input", *(CELL + n for n in (
        "output_quant", "cell_state_quant", "input_acc_quant", "forget_acc_quant", "cell_acc_quant",
        "output_acc_quant", "input_sigmoid_quant", "forget_sigmoid_quant", "cell_tanh_quant",
        "output_sigmoid_quant", "hidden_state_tanh_quant"))]}
    L = model.lstm
    H = L.hidden_size
    Wi, Wh = L.weight_ih_l0.split(H), L.weight_hh_l0.split(H)
    bias = (L.bias_ih_l0 + L.bias_hh_l0).split(H)
    with torch.no_grad():
        for ids, lengths in cal_batches:
            src = ids if model.kind == "discriminative" else ids[:, :-1]
            x = model.embedding(src)
            st["lstm_input"].add(x, q)
            h = x.new_zeros(x.size(0), H)
            c = x.new_zeros(x.size(0), H)
            outs = []
            for t in range(x.size(1)):
                acc = [F.linear(x[:, t], Wi[j]) + F.linear(h, Wh[j]) + bias[j] for j in range(4)]
                for j, g in enumerate(GATES):
                    st[f"{CELL}{g}_acc_quant"].add(acc[j], q)
                i, f = torch.sigmoid(acc[0]), torch.sigmoid(acc[1])
                g_, o = torch.tanh(acc[2]), torch.sigmoid(acc[3])
                st[CELL + "input_sigmoid_quant"].add(i, q)
                st[CELL + "forget_sigmoid_quant"].add(f, q)
                st[CELL + "cell_tanh_quant"].add(g_, q)
                st[CELL + "output_sigmoid_quant"].add(o, q)
                fc, ig = f * c, i * g_
                c = fc + ig
                for v in (fc, ig, c):
                    st[CELL + "cell_state_quant"].add(v, q)
                th = torch.tanh(c)
                st[CELL + "hidden_state_tanh_quant"].add(th, q)
                h = o * th
                st[CELL + "output_quant"].add(h, q)
                outs.append(h)
            out = torch.stack(outs, 1)
            if model.kind == "discriminative":
                st["head_input"].add(out[torch.arange(out.size(0)), lengths - 1], q)
            else:
                mask = torch.arange(ids.size(1) - 1)[None, :] < (lengths - 1)[:, None]
                states = out[mask]
                for y in range(model.num_classes):  # one call per label (log_likelihood loop)
                    lab = model.label_embedding(torch.full((states.size(0),), y))
                    st["head_input"].add(torch.cat([states, lab], -1), q)
    return {k: m.buf for k, m in st.items()}


# ----------------------------------------------------------------------------- checks
def check_accessors(q, bits):
    """The documented accessors agree with the state_dict formulas."""
    sd = q.state_dict()
    layer = q.lstm.layers[0][0]
    be, bl, bh = (bits[s] for s in quant.STAGES)
    errs = []
    thr = float(sd["lstm_input.act_quant" + SFX])
    errs.append(abs(float(q.lstm_input.act_quant.scale()) - thr / 2 ** (be - 1)))
    thr = float(sd[CELL + "input_sigmoid_quant" + SFX])
    errs.append(abs(float(layer.cell.input_sigmoid_quant.scale()) - thr / (2**bl - 1)))
    thr = float(sd[CELL + "cell_state_quant" + SFX])
    errs.append(abs(float(layer.cell.cell_state_quant.scale()) - thr / 2 ** (bl - 1)))
    assert layer.io_quant is layer.cell.output_quant
    for g in GATES:
        gp = getattr(layer, f"{g}_gate_params")
        qi, qh = gp.input_weight.quant_weight(), gp.hidden_weight.quant_weight()
        m = torch.maximum(gp.input_weight.weight.abs().max(), gp.hidden_weight.weight.abs().max())
        errs.append(abs(float(qi.scale) - float(m) / (2 ** (bl - 1) - 1)))
        errs.append(abs(float(qh.scale) - float(qi.scale)))
        errs.append(float(qi.int().abs().max() > 2 ** (bl - 1) - 1))
    qw = q.embedding.quant_weight()
    errs.append(abs(float(qw.scale) - float(q.embedding.weight.abs().max()) / (2 ** (be - 1) - 1)))
    errs.append(float((qw.value - q_weight(q.embedding.weight.detach(), be)).abs().max()))
    return max(errs)


def run(kind, b, n_test=200):
    torch.manual_seed(0)
    model = build_model(kind, V, K, HP).eval()
    bits = {s: b for s in quant.STAGES}
    q = quant.quantize_model(model, bits, 99.99)
    cal = batches(data())
    quant.calibrate(q, cal)
    sd = q.state_dict()
    test = data(n=n_test, seed=1)
    res = {}
    with torch.no_grad():
        ref = []
        for idx in sorted_batches(test.lengths, 16):
            ids, lengths, _ = collate(test, idx, "cpu")
            ref.append((ids, lengths, q.class_scores(ids, lengths)))
        for name, opts in {"exact": {}, "batched_ih": {"batched_ih": True},
                           "batched_ih+fused_gates": {"batched_ih": True, "fused_gates": True}}.items():
            eng = Engine(sd, bits, kind, **opts)
            d = max(float((eng.class_scores(i, l) - r).abs().max()) for i, l, r in ref)
            flips = sum(int((eng.class_scores(i, l).argmax(1) != r.argmax(1)).sum()) for i, l, r in ref)
            res[name] = (d, flips)
        fp = max(float((model.class_scores(i, l) - r).abs().max()) for i, l, r in ref)
    cal_thr = calibrate_replica(model, cal, 99.99)
    thr_err = max(abs(float(v) - float(sd[("lstm.layers.0.0.cell." + k[len(CELL):] if k.startswith(CELL) else k + ".act_quant") + SFX]))
                  / float(v) for k, v in cal_thr.items())
    acc_err = check_accessors(q, bits)
    return res, fp, thr_err, acc_err


if __name__ == "__main__":
    for kind in ("discriminative", "generative"):
        for b in (8, 4, 3):
            res, fp, thr_err, acc_err = run(kind, b)
            cols = "  ".join(f"{n}: maxabs={d:.3g} argmax_flips={f}" for n, (d, f) in res.items())
            print(f"{kind:14s} {b}b  {cols}  | quant-vs-fp32 {fp:.3g} | calib-replica rel err {thr_err:.2g} | accessor err {acc_err:.2g}")
