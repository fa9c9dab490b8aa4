"""The recipe axis (lstmptq.recipes): what N bits means, which families build which recipes, the
grid they make, and the config errors for recipes that do not exist."""

import pytest
import yaml
from conftest import REPO
from test_config import checked

from lstmptq import grid, recipes
from lstmptq.config import ConfigError
from lstmptq.quant.lstm import cell
from lstmptq.quant.lstm.recipes import RECIPES
from lstmptq.scheme import parse


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_the_paper_recipe_is_n_bit_weights_and_final_input_around_an_8_bit_lstm():
    scheme = parse(RECIPES["paper"].scheme(3))
    assert scheme.name == "w3uh8g8s8c8xh"
    settings = scheme.settings
    assert settings["w"].bits == 3 and settings["w"].full_range and not settings["w"].per_row  # per tensor
    assert settings["a"].bits == 3  # the final layer's input
    assert all(settings[c].bits == 8 for c in "hgsc")
    assert settings["x"].shared == "h" and settings["x"].bits == 8  # x_t on h_t's io quantizer
    assert parse(RECIPES["paper_split"].scheme(3)).settings["x"] == parse("w3x8").settings["x"]
    assert [RECIPES["uniform"].scheme(b) for b in (8, 3)] == ["w8", "w3"]
    assert RECIPES["paper"].scheme(8) == "w8uxh"  # canonical: everything else is 8 bits already


def test_the_paper_percentiles_are_per_model_for_the_final_input_and_brevitas_default_inside():
    gen, disc = (RECIPES["paper"].percentiles_for(kind) for kind in ("generative", "discriminative"))
    assert gen["a"] == 99.99 and disc["a"] == 99.9
    assert {gen[c] for c in "hgscx"} == {disc[c] for c in "hgscx"} == {99.999}
    assert RECIPES["uniform"].percentiles_for("generative") == {}  # the config's ptq.percentile


def test_per_class_percentiles_reach_brevitas_quantizers():
    from lstmptq.models.checkpoint import build_model
    from lstmptq.quant import build

    hp = {"embedding_dim": 8, "hidden_dim": 6, "label_embedding_dim": 6, "prior": "uniform", "dropout": 0.0}
    model = build_model("discriminative", 30, 3, hp)
    percentiles = tuple(RECIPES["paper"].percentiles_for("discriminative").items())
    plan = build.Plan(parse(RECIPES["paper"].scheme(4)), 99.99, None, percentiles)
    q = build.quantize_model(model, plan)

    def percentile(proxy):
        return proxy.fused_activation_quant_proxy.tensor_quant.scaling_impl.stats.stats_impl.q

    assert percentile(q.head_input.act_quant) == pytest.approx(99.9)
    layer = q.lstm.layers[0][0]
    assert percentile(layer.cell.cell_state_quant) == pytest.approx(99.999)
    assert percentile(layer.io_quant) == pytest.approx(99.999) and not layer.quantize_output_only
    assert not q.lstm_input.act_quant.is_quant_enabled  # x_t is quantized inside QuantLSTM instead
    assert plan.percentile_of("lstm_input") == 99.999 and plan.percentile_of("classifier.weight") == 99.99


def test_the_default_grid_runs_both_recipes_and_plain_beside_gpfq_at_4_and_3_bits(config):
    cells = grid.quantized_cells(checked(config))
    combos = {(c["model"], c["method"], c["recipe"], c["scheme"]) for c in cells}
    assert len(cells) == len(combos) == 2 * (2 * 6 + 2)  # models x (recipes x bits + plain at 4, 3)
    assert ("generative", "plain", "paper", "w3uh8g8s8c8xh") in combos
    assert not any(m == "plain" and r == "uniform" for _, m, r, _ in combos)
    paths = grid.cells(config, "ptq_metrics", dataset="bbc_news")
    assert len(paths) == len(cells) * 3 * 2  # seeds x strategies
    assert "results/bbc_news/generative/seed1/random/gpfq/uniform/w5/metrics.json" in paths
    assert "results/bbc_news/discriminative/seed0/balanced/plain/paper/w4uh8g8s8c8xh/metrics.json" in paths
    ks = grid.cells(config, "ks_table", dataset="bbc_news")
    assert len(ks) == len(cells) * 3 and all("/ks/" in p for p in ks)


def test_a_family_runs_only_the_recipes_it_declares(config, monkeypatch):
    monkeypatch.setattr(
        recipes, "declared", lambda family: {"uniform": recipes.UNIFORM} if family == "bow" else RECIPES
    )
    config["classifiers"] = ["discriminative", "bow"]
    assert recipes.configured(config, "bow") == ["uniform"]
    assert recipes.configured(config, "discriminative") == ["paper", "uniform"]
    assert recipes.configured(config, "bow", {"bow": ["uniform"], "discriminative": ["paper"]}) == ["uniform"]
    assert recipes.problems(config) == []


@pytest.mark.parametrize(
    "recipes_value, message",
    [
        (["paper", "papr"], "`ptq.recipes`: unknown recipe 'papr'; recipes by family: discriminative: paper, "),
        (
            {"generative": ["paper", "int4"]},
            "`ptq.recipes.generative`: the generative family cannot build recipe 'int4'",
        ),
        ({"transformer": ["uniform"]}, "`ptq.recipes`: 'transformer' is not in `classifiers`"),
    ],
)
def test_an_unknown_recipe_is_refused_before_the_dag_naming_the_key(config, recipes_value, message):
    config["ptq"]["recipes"] = recipes_value
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checked(config)


def test_an_extra_block_and_the_design_space_recipe_are_checked_too(config):
    config["ptq"]["extra"] = [{"recipes": ["nope"], "bits": [4]}]
    with pytest.raises(ConfigError, match=r"`ptq.extra\[0\].recipes`: unknown recipe 'nope'"):
        checked(config)
    config["ptq"]["extra"] = [{"methods": ["gpfq2"]}]
    with pytest.raises(ConfigError, match=r"`ptq.extra\[0\].methods`"):
        checked(config)
    config["ptq"]["extra"] = []
    config["design_space"] = {"methods": ["gpfq"], "schemes": ["w4"], "recipe": "nope"}
    with pytest.raises(
        ConfigError, match="`design_space.recipe`: the discriminative family cannot build recipe 'nope'"
    ):
        checked(config)


def test_a_path_with_a_recipe_its_family_lacks_names_the_recipes():
    with pytest.raises(ValueError, match="the generative family has no recipe 'papr'; it declares paper, paper_split"):
        recipes.recipe("generative", "papr")


def test_every_lstm_recipe_is_written_in_the_scheme_grammar():
    for recipe in RECIPES.values():
        for bits in range(2, 17):
            assert parse(recipe.scheme(bits)).weight_bits == bits
    assert cell.SHARES == {"x": "h"}
