"""One decoder product for every label (lstmptq.models.decoding) scores like one decoder pass per label."""

import torch
from test_quant_methods import HP, K, V, batches, data

from lstmptq.models import decoding
from lstmptq.models.checkpoint import build_model


def test_shared_decoder_scores_equal_the_per_label_passes(monkeypatch):
    torch.manual_seed(0)
    model = build_model("generative", V, K, HP).eval()
    monkeypatch.setattr(decoding, "DECODER_ROWS", 7)  # several tiles per batch, both ways
    monkeypatch.setattr(decoding, "DECODER_VOCAB_BLOCK", V // 3)
    with torch.no_grad():
        for ids, lengths in batches(data()):
            per_label = model.log_likelihood(ids, lengths)
            shared = model.shared_decoder_log_likelihood(ids, lengths)
            assert torch.allclose(shared, per_label, rtol=1e-5, atol=1e-4)
            assert torch.equal(model.class_scores(ids, lengths), shared + model.log_prior)
            model.per_label_decoder = True  # how the quantized model scores
            assert torch.equal(model.class_scores(ids, lengths), per_label + model.log_prior)
            model.per_label_decoder = False


def test_log_normalizers_survive_widely_spread_label_logits():
    torch.manual_seed(0)
    shared, label_logits = torch.randn(50, V), torch.randn(K, V)

    def normalizers():
        top = label_logits.max(dim=1).values
        return decoding.log_normalizers(shared, label_logits, top, torch.exp(label_logits - top[:, None]))

    direct = lambda: torch.stack(  # noqa: E731
        [torch.logsumexp(shared + offset, dim=-1) for offset in label_logits], dim=1
    )
    assert torch.allclose(normalizers(), direct(), atol=1e-5)
    shared[3] += 120.0  # beyond exp's range: the sums overflow without the row maximum taken out
    assert torch.allclose(normalizers(), direct(), atol=1e-4)
    label_logits[0, :5] += 200.0  # one label's logits now span > 200 nats: the product underflows
    assert torch.allclose(normalizers(), direct(), atol=1e-4)


def test_the_tiles_change_the_scores_by_float_rounding_only_and_overflow_falls_back():
    torch.manual_seed(0)
    states, weight, label_logits = torch.randn(60, 8), torch.randn(V, 8), torch.randn(K, V)
    targets, doc = torch.randint(0, V, (60,)), torch.arange(60) // 20
    one_tile = decoding.document_scores(states, targets, doc, 3, weight, label_logits, rows=60, vocab_block=V)
    tiled = decoding.document_scores(states, targets, doc, 3, weight, label_logits, rows=7, vocab_block=V // 4)
    assert torch.allclose(tiled, one_tile, rtol=1e-6, atol=1e-4)
    states[5] *= 60.0  # logits beyond exp's range at one position: that tile takes the row maximum out
    one_tile = decoding.document_scores(states, targets, doc, 3, weight, label_logits, rows=60, vocab_block=V)
    tiled = decoding.document_scores(states, targets, doc, 3, weight, label_logits, rows=7, vocab_block=V // 4)
    assert torch.isfinite(tiled).all() and torch.allclose(tiled, one_tile, rtol=1e-5, atol=1e-2)
