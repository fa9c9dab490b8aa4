rule plots:
    """The figures of a dataset (grid.PLOTS), PNG (in the report) and PDF."""
    input:
        study=path("study_parquet"),
        ks=path("ks_csv"),
        summary=path("study_summary"),
        comparison=path("reference_comparison"),
        reference=REFERENCE_FILE,
    output:
        **{
            name: report(path("plot", name=name, ext="png"), caption=f"../report/{name}.rst", category="Plots", subcategory="{dataset}")
            for name in PLOTS
        },
        pdf=expand(path("plot", ext="pdf"), name=PLOTS, allow_missing=True),
    params:
        reference_key=dataset_reference,
    conda:
        ENV
    log:
        job_log("plots", "dataset"),
    script:
        "../scripts/plots.py"
