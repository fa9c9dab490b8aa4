# The design-space sweep of quantization schemes (config `design_space`): its PTQ cells and the
# study's own of the same strategy and methods, gathered in three tables and three figures, all
# report() outputs. Part of `rule all` only when a sweep is configured.
from lstmptq.grid import DESIGN_SPACE_PLOTS, design_space_cells, design_space_inputs

DESIGN_SPACE_TABLES = {"table": "design_space_table", "quantizers": "design_space_quantizers", "answers": "design_space_answers"}


def design_space_outputs():
    """Every dataset's design-space tables and figures, or nothing without a sweep."""
    if not design_space_cells(config, "ptq_metrics", dataset="{dataset}"):
        return []
    tables = [f for kind in DESIGN_SPACE_TABLES.values() for f in per_dataset(kind)]
    return tables + expand(path("plot"), dataset=config["datasets"], name=DESIGN_SPACE_PLOTS, ext=["png", "pdf"])


rule design_space:
    """A dataset's design-space sweep: one row per cell, per quantizer and per answer to its
    questions (lstmptq.design_space), and its figures (grid.DESIGN_SPACE_PLOTS), PNG and PDF."""
    input:
        design_space_inputs(config, "ptq_metrics", dataset="{dataset}"),
    output:
        **{
            name: report(path(kind), caption=f"../report/{kind}.rst", category="Design space", subcategory="{dataset}")
            for name, kind in DESIGN_SPACE_TABLES.items()
        },
        **{
            name: report(path("plot", name=name, ext="png"), caption=f"../report/{name}.rst", category="Design space", subcategory="{dataset}")
            for name in DESIGN_SPACE_PLOTS
        },
        pdf=expand(path("plot", ext="pdf"), name=DESIGN_SPACE_PLOTS, allow_missing=True),
    params:
        collapse_sqnr_db=config["design_space"]["collapse_sqnr_db"],
    conda:
        ENV
    log:
        job_log("design_space", "dataset"),
    benchmark:
        job_log("design_space", "dataset", ext="tsv")
    script:
        "../scripts/design_space.py"
