# Aggregation and figures: the study table (every noise cell, with PTQ metadata), its summary
# over seeds, and the plots, each a report() output with a caption in workflow/report/.

rule study_table:
    """Every noise cell of a dataset in one tidy table, and mean / 95 % CI over seeds."""
    input:
        cells=expand(
            FP32_CELL, model=CLASSIFIERS, seed=SEEDS, eps=EPS, allow_missing=True
        )
        + expand(PTQ_CELL, model=CLASSIFIERS, seed=SEEDS, strategy=STRATEGIES, method=METHODS, bits=BITS, eps=EPS, allow_missing=True),
        ptq=expand(
            "results/{{dataset}}/{model}/seed{seed}/{strategy}/{method}/w{bits}/metrics.json",
            model=CLASSIFIERS,
            seed=SEEDS,
            strategy=STRATEGIES,
            method=METHODS,
            bits=BITS,
        ),
        fp32=expand("results/{{dataset}}/{model}/seed{seed}/fp32/metrics.json", model=CLASSIFIERS, seed=SEEDS),
    output:
        parquet="results/{dataset}/tables/study.parquet",
        csv=report("results/{dataset}/tables/study.csv", caption="../report/study_table.rst", category="Tables", subcategory="{dataset}"),
        summary=report("results/{dataset}/tables/study_summary.csv", caption="../report/study_summary.rst", category="Tables", subcategory="{dataset}"),
    conda:
        ENV
    log:
        "logs/{dataset}/study_table.log",
    script:
        "../scripts/study_table.py"


rule plots:
    """The six figures of a dataset, PNG (in the report) and PDF."""
    input:
        study="results/{dataset}/tables/study.parquet",
        ks="results/{dataset}/tables/ks.csv",
    output:
        **{
            name: report(f"results/{{dataset}}/plots/{name}.png", caption=f"../report/{name}.rst", category="Plots", subcategory="{dataset}")
            for name in PLOTS
        },
        pdf=expand("results/{{dataset}}/plots/{name}.pdf", name=PLOTS),
    conda:
        ENV
    log:
        "logs/{dataset}/plots.log",
    script:
        "../scripts/plots.py"
