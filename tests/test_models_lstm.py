import math
import zipfile

import pytest
import torch
from test_io import refused

from lstmptq.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from lstmptq.io import ResultFileError
from lstmptq.models.checkpoint import build_model, load_checkpoint, save_checkpoint
from lstmptq.models.lstm import DiscriminativeLSTM, GenerativeLSTM, log_prior_from

V, K = 12, 3


def batch():
    """Two documents of different length, right-padded."""
    ids = torch.tensor([[BOS_ID, 5, 6, 7, EOS_ID], [BOS_ID, 8, EOS_ID, PAD_ID, PAD_ID]])
    return ids, torch.tensor([5, 3])


@pytest.fixture
def generative():
    torch.manual_seed(0)
    return GenerativeLSTM(V, K, embedding_dim=6, hidden_dim=5, label_embedding_dim=4).eval()


def test_generative_log_likelihood_is_the_sum_of_token_log_probs(generative):
    ids, lengths = batch()
    ll = generative.log_likelihood(ids, lengths)
    for doc in range(2):
        n = int(lengths[doc])
        for label in range(K):
            # independent computation: step the LSTM over the document alone, no padding, no masking
            h, _ = generative.lstm(generative.embedding(ids[doc : doc + 1, : n - 1]))
            v = generative.label_embedding.weight[label].expand(n - 1, -1)
            logp = generative.decoder(torch.cat([h[0], v], -1)).log_softmax(-1)
            expected = sum(logp[t, ids[doc, t + 1]] for t in range(n - 1))
            assert ll[doc, label].item() == pytest.approx(expected.item(), abs=1e-5)


def test_generative_prediction_is_bayes_rule_with_the_prior(generative):
    ids, lengths = batch()
    ll = generative.log_likelihood(ids, lengths)
    prior = torch.log(torch.tensor([0.98, 0.01, 0.01]))
    generative.log_prior.copy_(prior)
    scores = generative.class_scores(ids, lengths)
    assert torch.allclose(scores, ll + prior)
    # a strong enough prior decides the prediction
    generative.log_prior.copy_(torch.tensor([0.0, -1e4, -1e4]))
    assert generative.class_scores(ids, lengths).argmax(1).tolist() == [0, 0]


def test_generative_encodes_once_and_decodes_once_per_label(generative, monkeypatch):
    calls = {"lstm": 0, "decoder": 0}
    lstm, decoder = generative.lstm.forward, generative.decoder.forward
    monkeypatch.setattr(generative.lstm, "forward", lambda *a: calls.__setitem__("lstm", calls["lstm"] + 1) or lstm(*a))
    monkeypatch.setattr(
        generative.decoder, "forward", lambda *a: calls.__setitem__("decoder", calls["decoder"] + 1) or decoder(*a)
    )
    generative.log_likelihood(*batch())
    assert calls == {"lstm": 1, "decoder": K}


def test_generative_loss_is_mean_token_nll_under_true_label(generative):
    ids, lengths = batch()
    labels = torch.tensor([2, 0])
    ll = generative.log_likelihood(ids, lengths)
    expected = -(ll[0, 2] + ll[1, 0]) / (4 + 2)
    assert generative.loss(ids, lengths, labels).item() == pytest.approx(expected.item(), abs=1e-5)


def test_discriminative_reads_the_state_at_the_true_last_token():
    torch.manual_seed(0)
    model = DiscriminativeLSTM(V, K, embedding_dim=6, hidden_dim=5).eval()
    ids, lengths = batch()
    alone = model(ids[1:, :3], lengths[1:])
    padded = model(ids, lengths)[1:]
    assert torch.allclose(alone, padded, atol=1e-6)  # padding after <eos> changes nothing


def test_empirical_and_uniform_priors():
    assert torch.allclose(log_prior_from("uniform", [0, 1], 4), torch.full((4,), -math.log(4)))
    assert torch.allclose(log_prior_from("empirical", [0, 0, 0, 1], 2).exp(), torch.tensor([0.75, 0.25]))


@pytest.mark.parametrize("kind", ["discriminative", "generative"])
def test_checkpoint_round_trip_with_weights_only(tmp_path, kind):
    hp = {"embedding_dim": 6, "hidden_dim": 5, "label_embedding_dim": 4, "dropout": 0.0}
    model = build_model(kind, V, K, hp).eval()
    if kind == "generative":  # a non-uniform prior, so the round trip must carry it
        model.log_prior.copy_(log_prior_from("empirical", [0, 1, 1, 2], K))
    meta = {"vocab_size": V, "num_classes": K, "model": hp}
    save_checkpoint(tmp_path / "m.pt", model, meta)
    again, meta_again = load_checkpoint(tmp_path / "m.pt")
    assert meta_again == meta
    assert torch.allclose(again.eval().class_scores(*batch()), model.class_scores(*batch()))


@pytest.fixture
def checkpoint(tmp_path):
    """A saved checkpoint (in a folder like the workflow's) and its model."""
    hp = {"embedding_dim": 6, "hidden_dim": 5}
    model = build_model("discriminative", V, K, hp)
    path = tmp_path / "fp32" / "model.pt"
    save_checkpoint(path, model, {"vocab_size": V, "num_classes": K, "model": hp})
    return path, model


def test_a_flipped_byte_in_a_checkpoint_tensor_is_refused(checkpoint):
    path, model = checkpoint
    data = bytearray(path.read_bytes())
    offset = data.find(model.classifier.weight.detach().numpy().tobytes())  # the tensor's bytes in the zip
    assert offset > 0
    data[offset + 5] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(
        ResultFileError, match=refused(path, "content does not match its checksum: the file was edited or corrupted")
    ):
        load_checkpoint(path)


def test_an_edited_zip_entry_with_a_valid_crc_is_refused(checkpoint):
    """Rewriting the tensor's zip entry keeps the zip consistent: only the checksum can tell."""
    path, _ = checkpoint
    with zipfile.ZipFile(path) as archive:
        entries = {info: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for info, content in entries.items():
            if info.filename.endswith("/data/0"):
                content = bytes([content[0] ^ 0xFF]) + content[1:]
            archive.writestr(info, content)
    with pytest.raises(ResultFileError, match=refused(path, "content does not match its checksum: .*")):
        load_checkpoint(path)


def test_truncated_missing_or_old_checkpoints_are_refused(checkpoint):
    path, model = checkpoint
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ResultFileError, match=refused(path, r"truncated or not a checkpoint \(PytorchStreamReader failed .*\)")
    ):
        load_checkpoint(path)
    path.unlink()
    with pytest.raises(ResultFileError, match=refused(path, "not found")):
        load_checkpoint(path)
    torch.save(
        {"format": 1, "kind": model.kind, "meta": {}, "state_dict": model.state_dict()}, path
    )  # before checksums
    with pytest.raises(ResultFileError, match=refused(path, "checkpoint in format 1, but this code reads format 2")):
        load_checkpoint(path)


def test_generative_prior_comes_from_its_settings_and_the_training_labels():
    hp = {"embedding_dim": 6, "hidden_dim": 5, "label_embedding_dim": 4, "dropout": 0.0}
    labels = [0, 1, 1, 2]
    empirical = build_model("generative", V, K, {**hp, "prior": "empirical"}, labels)
    assert torch.allclose(empirical.log_prior, log_prior_from("empirical", labels, K))
    uniform = build_model("generative", V, K, {**hp, "prior": "uniform"}, labels)
    assert torch.allclose(uniform.log_prior, torch.full((K,), -math.log(K)))
