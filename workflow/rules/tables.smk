rule fp32_table:
    """Test accuracy of every FP32 model and the baseline of one dataset."""
    input:
        metrics=expand(
            "results/{{dataset}}/{model}/seed{seed}/fp32/metrics.json",
            model=CLASSIFIERS,
            seed=SEEDS,
        ),
        baseline="results/{dataset}/baseline/tfidf_logreg/metrics.json",
    output:
        "results/{dataset}/tables/fp32_accuracy.csv",
    conda:
        ENV
    log:
        "logs/{dataset}/fp32_table.log",
    script:
        "../scripts/fp32_table.py"
