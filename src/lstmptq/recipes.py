"""Recipes: what "N bits" means. A recipe turns a bit width into a scheme (lstmptq.scheme) and
adds what the scheme grammar cannot say: a percentile per scheme class, per classifier family.
Stdlib only (the grid reads recipes before the DAG is built).

A family declares the recipes it can build (`RECIPES` in its module, name -> Recipe; a family
without one builds `uniform` only), and the grid crosses each family with the configured recipes
it declares (`ptq.recipes`). A recipe is a path part of every PTQ cell:
``.../{strategy}/{method}/{recipe}/{scheme}``. Its percentiles reach the cell through the rule's
params, so changing a recipe reruns its cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lstmptq import registry
from lstmptq import scheme as schemes


@dataclass(frozen=True)
class Recipe:
    """`template`: the scheme at `{bits}` (any token order; the grid uses its canonical name).
    `percentiles`: class letter -> the percentile of its `p` statistic, or family -> that; a class
    not named takes the config's `ptq.percentile`."""

    summary: str
    template: str
    percentiles: dict[str, Any] = field(default_factory=dict)

    def scheme(self, bits: int) -> str:
        """The scheme's canonical name at `bits`; as written where it does not parse (a bit width
        of 4.0), so that the grid's spelling check names the config key."""
        written = self.template.format(bits=bits)
        try:
            return schemes.canonical(written)
        except schemes.SchemeError:
            return written

    def percentiles_for(self, family: str) -> dict[str, float]:
        """Class letter -> percentile for one family, in class order (params and the Plan read it)."""
        out = {}
        for letter, value in self.percentiles.items():
            value = value.get(family) if isinstance(value, dict) else value
            if value is not None:
                out[letter] = float(value)
        return dict(sorted(out.items()))


UNIFORM = Recipe(
    "every quantizer at N bits, the config's ptq.percentile (the authors' 2026 re-implementation)", "w{bits}"
)


def declared(family: str) -> dict[str, Recipe]:
    """The recipes a classifier family can build (its module's RECIPES), by name."""
    return dict(getattr(registry.family(family), "RECIPES", {"uniform": UNIFORM}))


def recipe(family: str, name: str) -> Recipe:
    """A family's recipe; a name it does not declare (e.g. in a file path) is refused with its recipes."""
    recipes = declared(family)
    if name not in recipes:
        raise registry.RegistryError(
            f"the {family} family has no recipe {name!r}; it declares {', '.join(sorted(recipes))} (lstmptq/recipes.py)"
        )
    return recipes[name]


def configured(config: dict[str, Any], family: str, names: list[str] | None = None) -> list[str]:
    """The recipes the grid crosses `family` with: `names` (default `ptq.recipes`), given as a
    list (each family takes those it declares) or as a mapping family -> list (explicit)."""
    names = config["ptq"]["recipes"] if names is None else names
    if isinstance(names, dict):
        return [str(n) for n in names.get(family, [])]
    return [str(n) for n in names if str(n) in declared(family)]


def problems(config: dict[str, Any]) -> list[str]:
    """Recipe names no registered family declares, or named explicitly for a configured one that
    cannot build them; each message names the key and lists every family's recipes."""
    families = [str(c) for c in config["classifiers"]]
    known = {family: sorted(declared(family)) for family in dict.fromkeys([*families, *registry.CLASSIFIERS])}
    listing = "; ".join(f"{family}: {', '.join(names)}" for family, names in known.items())
    out = []
    blocks = [("ptq.recipes", config["ptq"]["recipes"])]
    blocks += [
        (f"ptq.extra[{i}].recipes", block["recipes"])
        for i, block in enumerate(config["ptq"].get("extra", []))
        if "recipes" in block
    ]
    for key, names in blocks:
        if isinstance(names, dict):
            for family, listed in names.items():
                if family not in families:
                    out.append(f"config key `{key}`: {family!r} is not in `classifiers` ({', '.join(families)})")
                    continue
                out += [
                    f"config key `{key}.{family}`: the {family} family cannot build recipe {name!r} "
                    f"(recipes by family: {listing})"
                    for name in listed
                    if str(name) not in known[family]
                ]
        else:
            out += [
                f"config key `{key}`: unknown recipe {name!r}; recipes by family: {listing}"
                for name in names
                if not any(str(name) in recipes for recipes in known.values())
            ]
    return out
