# The design-space sweep of quantization schemes (config `design_space`): its PTQ cells and the
# study's own of the same strategy and methods, gathered in three tables and three figures, all
# report() outputs. Part of `rule all` (grid.design_space_targets) only when a sweep is configured.
from lstmptq.grid import DESIGN_SPACE_PLOTS, DESIGN_SPACE_TABLES, design_space_inputs, design_space_targets


rule design_space:
    """A dataset's design-space sweep: one row per cell, per quantizer and per answer to its
    questions (lstmptq.report.design_space), and its figures (grid.DESIGN_SPACE_PLOTS), PNG and PDF."""
    input:
        metrics=design_space_inputs(config, "ptq_metrics", dataset="{dataset}"),
        labels=path("labels"),  # its class counts, for the dataset's flags (`checks:`)
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
        checks=config["checks"],
        **extension_params(statistics_use),
    conda:
        ENV
    log:
        job_log("design_space", "dataset"),
    script:
        "../scripts/design_space.py"
