# What the run cost: one table over every job's benchmark file and log, made last.


rule run_cost:
    """What the run cost, per rule and classifier, from every job's own benchmark file and log
    (lstmptq.report.cost): it runs after every other result, so a rebuilt cell updates it."""
    input:
        per_dataset("fp32_table"),
        per_dataset("ptq_table"),
        per_dataset("ks_csv"),
        per_dataset("study_summary"),
        path("verdicts_html"),
        expand(path("plot"), dataset=config["datasets"], name=PLOTS, ext=["png", "pdf"]),
        design_space_targets(config),
    output:
        report(path("cost_csv"), caption="../report/run_cost.rst", category="Cost"),
    params:
        **extension_params(classifier_uses),  # extension families name their jobs' rows too
    threads: 1
    conda:
        ENV
    log:
        job_log("run_cost"),
    script:
        "../scripts/run_cost.py"
