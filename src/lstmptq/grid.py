"""The study grid: its axes, how each axis value is spelt, where every cell and table lives,
and the supported ranges. Stdlib only: the Snakefile, the rule files, the config checks, the
steps and the tables all read the grid from here, so a path or a spelling is written once.

Every value of an axis becomes part of file names, and Snakemake finds the rule of a file by
the wildcard patterns below: a value whose spelling its pattern does not match (a bit width of
4.0 -> `w4.0`) would name files no rule makes, and a finished table would silently stay as it
was. So each value is spelt here and checked against its pattern before the DAG is built.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from lstmptq import recipes as recipe_registry
from lstmptq import registry
from lstmptq import scheme as schemes

NAME = "[a-z][a-z0-9_]*"  # names of datasets, classifiers, strategies, methods, noise models
SPLITS = ("train", "valid", "test")
STAGES = ("embedding", "lstm", "head")  # quantization stages; a method may keep one at 8 bits
BITS = schemes.BITS  # what Brevitas, the packed artifact and the engine hold exactly
FP32 = "fp32"  # the unquantized models' strategy and method in paths and tables
FP32_BITS = 32  # their bit width in tables

# wildcard -> the pattern its values must match in a path (no `-` in NAME: `gpfq-lstm8` parses one way)
WILDCARDS = {
    "dataset": NAME,
    "model": NAME,
    "seed": "[0-9]+",
    "strategy": NAME,
    "method": f"{NAME}(-({'|'.join(STAGES)})8)?",
    "recipe": NAME,
    "scheme": schemes.PATTERN,
    "noise": NAME,
    "eps": "[0-9.e+-]+",
}

# ---- where things live: one pattern per file kind ----------------------------------------
DATA = "results/{dataset}/data"
TOKENS = "results/{dataset}/tokens"
FP32_MODEL = "results/{dataset}/{model}/seed{seed}/" + FP32
PTQ_CELL = "results/{dataset}/{model}/seed{seed}/{strategy}/{method}/{recipe}/{scheme}"
KS = "results/{dataset}/{model}/seed{seed}/ks/{method}/{recipe}/{scheme}"
QUANTIZED_AXES = ("model", "method", "recipe", "scheme")  # linked: a family's recipes, a recipe's schemes
TABLES = "results/{dataset}/tables"

PATHS = {
    "split": DATA + "/{split}.parquet",
    "labels": DATA + "/labels.json",
    "tokens": TOKENS + "/{split}.parquet",
    "vocab": TOKENS + "/vocab.json",
    "token_stats": TOKENS + "/stats.json",
    "baseline": "results/{dataset}/baseline/tfidf_logreg/metrics.json",
    "model": FP32_MODEL + "/model.pt",
    "train_log": FP32_MODEL + "/train_log.csv",
    "fp32_metrics": FP32_MODEL + "/metrics.json",
    "calibration": "results/{dataset}/calibration/seed{seed}/{strategy}.json",
    "quantized": PTQ_CELL + "/quantized.pt",
    "artifact": PTQ_CELL + "/quantized.safetensors",
    "ptq_metrics": PTQ_CELL + "/metrics.json",
    "ks_table": KS + ".csv",
    "ks_signal": KS + "_signal.json",
    "noisy": "results/{dataset}/noise/{noise}/eps{eps}.parquet",
    "fp32_noise_cell": FP32_MODEL + "/noise/{noise}/eps{eps}.json",
    "ptq_noise_cell": PTQ_CELL + "/noise/{noise}/eps{eps}.json",
    "fp32_table": TABLES + "/fp32_accuracy.csv",
    "ptq_table": TABLES + "/ptq_accuracy.csv",
    "design_space_table": TABLES + "/design_space.csv",
    "design_space_quantizers": TABLES + "/design_space_quantizers.csv",
    "design_space_answers": TABLES + "/design_space_answers.csv",
    "ks_csv": TABLES + "/ks.csv",
    "signal_csv": TABLES + "/signal_health.csv",
    "study_parquet": TABLES + "/study.parquet",
    "study_csv": TABLES + "/study.csv",
    "study_summary": TABLES + "/study_summary.csv",
    "findings": TABLES + "/findings.csv",
    "reference_comparison": TABLES + "/reference_comparison.csv",
    "verdicts_csv": "results/verdicts.csv",
    "verdicts_html": "results/verdicts.html",
    "cost_csv": "results/cost.csv",
    "plot": "results/{dataset}/plots/{name}.{ext}",
}

PLOTS = (
    "accuracy_vs_bits", "drop_vs_bits", "accuracy_vs_eps", "accuracy_heatmap", "ks_vs_bits", "size_vs_accuracy",
    "reference_vs_bits",
)  # fmt: skip
DESIGN_SPACE_PLOTS = (
    "design_space_pareto",
    "design_space_sensitivity",
    "design_space_sqnr",
)  # only with a sweep configured
DESIGN_SPACE_TABLES = {
    "table": "design_space_table",
    "quantizers": "design_space_quantizers",
    "answers": "design_space_answers",
}  # output name: path kind


def path(kind: str, **values: Any) -> str:
    """The path of one file, e.g. path("model", dataset="bbc_news", model="generative", seed=0);
    values not given stay `{wildcards}` (for rules)."""
    return PATHS[kind].format_map(_Keep(values))


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


SPELT = {"seed": "seed{seed}", "eps": "eps{eps}"}  # path parts that carry a prefix


def job_log(rule: str, *wildcards: str) -> str:
    """A job's log file: logs/<rule>/<its wildcards>.log (its benchmark: `benchmark_of`)."""
    parts = [SPELT.get(w, "{" + w + "}") for w in wildcards] or ["all"]
    return f"logs/{rule}/{'/'.join(parts)}.log"


def benchmark_of(log_file: str) -> str | None:
    """The benchmark file a job writes beside its log: benchmarks/<rule>/<its wildcards>.tsv
    (None for a log outside logs/, such as a test's). Jobs record their own wall time, CPU time and
    peak memory (lstmptq.runtime) in Snakemake's `benchmark:` format instead of the directive:
    Snakemake's benchmark thread polls each job's memory through /proc every 0.5 s, which cost
    its main process a third of a core on 2 cores (issue 26)."""
    parts = log_file.split("/")
    if parts[0] != "logs" or not log_file.endswith(".log"):
        return None
    return "/".join(["benchmarks", *parts[1:]])[: -len(".log")] + ".tsv"


# ---- how axis values are spelt ------------------------------------------------------------


def format_eps(eps: float) -> str:
    """The eps part of a cell's file name: `0`, `0.01`, `0.002` (float() reads it back)."""
    return f"{eps:g}"


CLEAN = format_eps(0)  # the eps of a model's own noise-free reference cell


def curve_eps(config: dict[str, Any]) -> list[str]:
    """The levels of every noise curve, spelt as in paths and ascending: the configured eps plus
    eps 0, each curve's clean reference."""
    return [format_eps(e) for e in sorted({0.0, *(float(e) for e in config["noise"]["eps"])})]


def method_name(base: str, keep_8bit: str | None = None) -> str:
    """`gpfq`, or `gpfq-lstm8` for the same method with one stage kept at 8 bits."""
    return f"{base}-{keep_8bit}8" if keep_8bit else base


def parse_method(method: str) -> tuple[str, str | None]:
    """(base method, the stage it keeps at 8 bits or None) of a method as spelt in a path."""
    match = re.fullmatch(f"({NAME})(?:-({'|'.join(STAGES)})8)?", method)
    if not match:
        raise ValueError(f"PTQ method {method!r}: write a method name, optionally with -embedding8, -lstm8 or -head8")
    return match.group(1), match.group(2)


def inapplicable(model: str, method: str, scheme: str) -> str | None:
    """Why family `model` cannot run a PTQ cell of `method` and `scheme`, or None if it can: the
    method is one the family excludes (EXCLUDED_METHODS: `gpfq_lstm` needs an LSTM), it keeps a
    stage the family does not have (STAGES), the scheme names a class the family has no
    quantizers of (SCHEME_CLASSES: `c`, the cell state, is the LSTM's), or a statistic it cannot
    calibrate (STATISTICS: a transformer's nested layers take Brevitas' own calibration, which
    knows the percentile only; quant.methods.calibrate). The grid does not cross
    such a family with such a cell, as it does not cross it with a recipe it does not declare."""
    module = registry.family(model)
    base, kept = parse_method(method)
    if base in getattr(module, "EXCLUDED_METHODS", ()):
        return f"PTQ method {base!r} does not apply to classifier {model!r} (its EXCLUDED_METHODS)"
    if kept and kept not in getattr(module, "STAGES", STAGES):
        return f"classifier {model!r} has no stage {kept!r} to keep at 8 bits (its STAGES)"
    classes = getattr(module, "SCHEME_CLASSES", schemes.LSTM_CLASSES)
    try:
        foreign = sorted({token[0] for token in schemes.tokens(scheme)} - set(classes))
    except schemes.SchemeError:
        return None  # a misspelt scheme: axis_problems names its config key
    if foreign:
        return f"scheme {scheme!r} sets classes {foreign}: classifier {model!r} has no such quantizers (SCHEME_CLASSES)"
    statistics = getattr(module, "STATISTICS", None)  # None: every statistic
    if statistics is not None:
        unknown = sorted({setting.statistic for setting in schemes.parse(scheme).settings.values()} - set(statistics))
        if unknown:
            return f"scheme {scheme!r} uses statistics {unknown} classifier {model!r} cannot calibrate (STATISTICS)"
    return None


def with_kept_stages(config: dict[str, Any], methods: list[str]) -> list[str]:
    """Each method, then each with one stage kept at 8 bits (`ptq.keep_8bit_stages`)."""
    stages = config["ptq"]["keep_8bit_stages"]
    return [*methods, *(method_name(m, stage) for m in methods for stage in stages)]


def ptq_methods(config: dict[str, Any]) -> list[str]:
    """Method names of the PTQ grid (`ptq.methods` and every `ptq.extra` block's), with kept stages."""
    blocks = [config["ptq"]["methods"], *(b.get("methods", []) for b in config["ptq"].get("extra", []))]
    return list(dict.fromkeys(with_kept_stages(config, [str(m) for block in blocks for m in block])))


def ptq_blocks(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The PTQ grid as products: `ptq.recipes` x `ptq.methods` x `ptq.bits`, then each
    `ptq.extra` block (its keys default to those)."""
    ptq = config["ptq"]
    main = {"recipes": ptq["recipes"], "methods": ptq["methods"], "bits": ptq["bits"]}
    return [main, *({**main, **block} for block in ptq.get("extra", []))]


def quantized_cells(config: dict[str, Any]) -> list[dict[str, str]]:
    """Every PTQ cell of the study grid apart from dataset, seed and strategy: (model, method,
    recipe, scheme), each once, in grid order. Each family is crossed with the recipes it declares."""
    out = []
    for block in ptq_blocks(config):
        for model in (str(c) for c in config["classifiers"]):
            for recipe in recipe_registry.configured(config, model, block["recipes"]):
                schemes_of = recipe_registry.recipe(model, recipe)
                for method in with_kept_stages(config, [str(m) for m in block["methods"]]):
                    for bits in block["bits"]:
                        scheme = schemes_of.scheme(bits)
                        if not inapplicable(model, method, scheme):
                            out.append({"model": model, "method": method, "recipe": recipe, "scheme": scheme})
    return list({tuple(c.values()): c for c in out}.values())


def recipe_names(config: dict[str, Any]) -> list[str]:
    """Every recipe the grid runs, in grid order."""
    return list(dict.fromkeys(c["recipe"] for c in quantized_cells(config)))


def bits_of(scheme: str) -> int:
    """The bit width a scheme is tabled under: its weights' (FP32_BITS where they stay float)."""
    bits = schemes.parse(scheme).weight_bits
    return FP32_BITS if bits is None else bits


def study_schemes(config: dict[str, Any]) -> list[str]:
    """The study's schemes: each recipe's at each of its bit widths (w8 ... w3 for `uniform`)."""
    return list(dict.fromkeys(c["scheme"] for c in quantized_cells(config)))


def design_space_schemes(config: dict[str, Any]) -> list[str]:
    """The design-space sweep's schemes: `design_space.schemes`, then its sensitivity sweep (each
    quantizer class alone at each low bit width, the rest at each `rest` width or float), swept
    over each configured family's own classes (an LSTM's and a transformer's sweeps differ;
    `inapplicable` keeps each family to its own)."""
    space = config.get("design_space") or {}
    names = [str(s) for s in space.get("schemes", [])]
    sweep = space.get("sensitivity") or {}
    for bits in sweep.get("bits", []):
        for rest in sweep.get("rest", []):
            base = schemes.parse(schemes.uniform(rest) if rest != "float" else f"w{schemes.FLOAT}")
            for classes in family_classes(config):
                absent = [c for c in schemes.ACTIVATION_DEFAULTED if c not in classes]  # no quantizers here: follow `a`
                swept = [c for c in sweep.get("classes", classes) if c in classes]
                names += [base.with_class(letter, int(bits)).following_a(absent).name for letter in swept]
    return list(dict.fromkeys(names))


def family_classes(config: dict[str, Any]) -> list[tuple[str, ...]]:
    """Each distinct set of scheme classes among the configured classifiers' families (their
    SCHEME_CLASSES; the LSTMs' where a family names none), in CLASSES order."""
    families = [registry.family(kind) for kind in config.get("classifiers", ["discriminative", "generative"])]
    sets = [set(getattr(module, "SCHEME_CLASSES", schemes.LSTM_CLASSES)) for module in families]
    return list(dict.fromkeys(tuple(c for c in schemes.CLASSES if c in had) for had in sets))


def axes(config: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """wildcard -> (the config key it comes from, its values as spelt in paths)."""
    return {
        "dataset": ("datasets", [str(d) for d in config["datasets"]]),
        "model": ("classifiers", [str(c) for c in config["classifiers"]]),
        "seed": ("seeds", [str(s) for s in config["seeds"]]),
        "strategy": ("calibration.strategies", [str(s) for s in config["calibration"]["strategies"]]),
        "method": ("ptq.methods / ptq.keep_8bit_stages", ptq_methods(config)),
        "recipe": ("ptq.recipes", recipe_names(config)),
        "scheme": ("ptq.bits", study_schemes(config)),
        "noise": ("noise.models", [str(n) for n in config["noise"]["models"]]),
        "eps": ("noise.eps", [format_eps(e) for e in config["noise"]["eps"]]),
    }


def axis_problems(config: dict[str, Any]) -> list[str]:
    """Every axis value that its path pattern would not match, or that two values spell alike."""
    problems = []
    for wildcard, (key, values) in axes(config).items():
        for value in values:
            if not re.fullmatch(WILDCARDS[wildcard], value):
                problems.append(
                    f"config key `{key}`: {value!r} cannot name a file "
                    f"(a {wildcard} must match {WILDCARDS[wildcard]!r})"
                )
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            problems.append(
                f"config key `{key}`: {repeated} appear more than once (as spelt in file names); list each value once"
            )
    space = config.get("design_space") or {}
    for key, values in (
        ("design_space.schemes", space.get("schemes", [])),
        ("design_space.methods", space.get("methods", [])),
    ):
        repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
        if repeated:
            problems.append(f"config key `{key}`: {repeated} appear more than once; list each value once")
    for name in space.get("schemes", []):
        try:
            schemes.parse(str(name))
        except schemes.SchemeError as err:
            problems.append(f"config key `design_space.schemes`: {err}")
    if FP32 in axes(config)["strategy"][1] or FP32 in config["ptq"]["methods"]:
        problems.append(
            f"`{FP32}` names the unquantized models' cells; call the calibration strategy or PTQ method something else"
        )
    return problems


def _expand(
    kind: str, values: dict[str, list[str]], fixed: dict[str, Any], linked: list[dict[str, str]] | None = None
) -> list[str]:
    """Every path of a file kind over the given axis values, the wildcards in `fixed` left as
    given; `linked`: the combinations of QUANTIZED_AXES that exist (a product of the rest)."""
    wildcards = re.findall(r"{(\w+)}", PATHS[kind])
    combos = [{}]
    if linked is not None and "scheme" in wildcards:
        combos = [{w: c[w] for w in QUANTIZED_AXES if w in wildcards and w not in fixed} for c in linked]
    wanted = {w: values[w] for w in wildcards if w not in fixed and w not in combos[0]} if combos else {}
    return list(
        dict.fromkeys(
            path(kind, **fixed, **combo, **dict(zip(wanted, combination)))
            for combo in combos
            for combination in itertools.product(*wanted.values())
        )
    )


def cells(config: dict[str, Any], kind: str, **fixed: Any) -> list[str]:
    """Every path of a file kind over the grid, with the wildcards in `fixed` left as given
    (e.g. cells(config, "ptq_metrics", dataset="{dataset}") for a per-dataset table's inputs)."""
    return _expand(kind, {w: values for w, (_, values) in axes(config).items()}, fixed, quantized_cells(config))


def design_space_cells(config: dict[str, Any], kind: str, **fixed: Any) -> list[str]:
    """Every path of a PTQ-cell file kind over the design-space sweep: its schemes x its methods
    x its calibration strategy, for each classifier and seed (e.g. the design-space table's inputs)."""
    space = config.get("design_space") or {}
    if not space.get("methods") or not design_space_schemes(config):
        return []
    grid = {w: values for w, (_, values) in axes(config).items()}
    recipe = str(space.get("recipe", "uniform"))
    linked = [
        {"model": model, "method": str(method), "recipe": recipe, "scheme": scheme}
        for model in grid["model"]
        for method in space["methods"]
        for scheme in design_space_schemes(config)
        if not inapplicable(model, str(method), scheme)
    ]
    return _expand(kind, {**grid, "strategy": [str(space["strategy"])]}, fixed, linked) if linked else []


def design_space_inputs(config: dict[str, Any], kind: str, **fixed: Any) -> list[str]:
    """The design-space tables' inputs: the sweep's cells plus the study's own cells of the sweep's
    strategy and methods, so the uniform schemes it is measured against (w4, w3) are in; empty
    without a sweep."""
    sweep = design_space_cells(config, kind, **fixed)
    if not sweep:
        return []
    space = config["design_space"]
    grid = {w: values for w, (_, values) in axes(config).items()}
    grid["strategy"] = [s for s in grid["strategy"] if s == str(space["strategy"])]
    methods, recipe = {str(n) for n in space["methods"]}, str(space.get("recipe", "uniform"))
    own = [c for c in quantized_cells(config) if c["method"] in methods and c["recipe"] == recipe]
    return list(dict.fromkeys(sweep + (_expand(kind, grid, fixed, own) if own else [])))


def design_space_targets(config: dict[str, Any]) -> list[str]:
    """Every dataset's design-space tables and figures (for `rule all`); none without a sweep."""
    if not design_space_cells(config, "ptq_metrics", dataset="{dataset}"):
        return []
    datasets = axes(config)["dataset"][1]
    tables = [path(kind, dataset=d) for d in datasets for kind in DESIGN_SPACE_TABLES.values()]
    return tables + [
        path("plot", dataset=d, name=n, ext=e) for d in datasets for n in DESIGN_SPACE_PLOTS for e in ("png", "pdf")
    ]
