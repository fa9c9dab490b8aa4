rule plots:
    """The figures of a dataset (grid.PLOTS), PNG (in the report) and PDF."""
    input:
        study=path("study_parquet"),
        ks=path("ks_csv"),
    output:
        **{
            name: report(path("plot", name=name, ext="png"), caption=f"../report/{name}.rst", category="Plots", subcategory="{dataset}")
            for name in PLOTS
        },
        pdf=expand(path("plot", ext="pdf"), name=PLOTS, allow_missing=True),
    conda:
        ENV
    log:
        job_log("plots", "dataset"),
    benchmark:
        job_log("plots", "dataset", ext="tsv")
    script:
        "../scripts/plots.py"
