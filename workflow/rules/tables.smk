# Every result of a dataset gathered into tables; the study table (every noise cell with its
# PTQ cell's metadata) and its summary over seeds are report() outputs with captions.


rule fp32_table:
    """Test accuracy of every FP32 model and the baseline of one dataset."""
    input:
        metrics=over_grid("fp32_metrics"),
        baseline=path("baseline"),
        labels=path("labels"),  # its class counts, for the dataset's flags
    output:
        path("fp32_table"),
    params:
        checks=config["checks"],  # the flags' thresholds: a table's params, so a new one retrains nothing
    conda:
        ENV
    log:
        job_log("fp32_table", "dataset"),
    script:
        "../scripts/fp32_table.py"


rule ptq_table:
    """Every PTQ cell of a dataset in one long table (accuracy, drop, size, times)."""
    input:
        metrics=over_grid("ptq_metrics"),
        labels=path("labels"),
    output:
        path("ptq_table"),
    params:
        checks=config["checks"],
    conda:
        ENV
    log:
        job_log("ptq_table", "dataset"),
    script:
        "../scripts/ptq_table.py"


rule ks_table:
    """All KS statistics and hidden-state signal health of a dataset, in two long tables."""
    input:
        tables=over_grid("ks_table"),
        signals=over_grid("ks_signal"),
    output:
        ks=path("ks_csv"),
        signal=path("signal_csv"),
    conda:
        ENV
    log:
        job_log("ks_table", "dataset"),
    script:
        "../scripts/ks_table.py"


rule study_table:
    """Every noise cell of a dataset in one tidy table, mean / 95 % CI over seeds, the study's
    findings tested on it, and its cells beside the authors' figures where its source names them."""
    input:
        cells=over_grid("fp32_noise_cell") + over_grid("ptq_noise_cell"),
        ptq=over_grid("ptq_metrics"),
        fp32=over_grid("fp32_metrics"),
        labels=path("labels"),
        reference=REFERENCE_FILE,
    output:
        parquet=path("study_parquet"),
        csv=report(path("study_csv"), caption="../report/study_table.rst", category="Tables", subcategory="{dataset}"),
        summary=report(path("study_summary"), caption="../report/study_summary.rst", category="Tables", subcategory="{dataset}"),
        findings=report(path("findings"), caption="../report/findings.rst", category="Findings", subcategory="{dataset}"),
        reference=report(path("reference_comparison"), caption="../report/reference_comparison.rst", category="Findings", subcategory="{dataset}"),
    params:
        method=config["ptq"]["methods"][0],  # the method the findings compare
        reference_key=dataset_reference,
        checks=config["checks"],
        **extension_params(classifier_uses),  # the tables group by each family's ARCHITECTURE and KIND
    conda:
        ENV
    log:
        job_log("study_table", "dataset"),
    script:
        "../scripts/study_table.py"


rule verdicts:
    """The verdict grid: every dataset's findings side by side, one column per recipe
    (lstmptq.report.verdicts); the report opens on it. Sources not in `datasets` show `not run`."""
    input:
        findings=per_dataset("findings"),
    output:
        csv=path("verdicts_csv"),
        html=report(path("verdicts_html"), caption="../report/verdicts.rst", category="At a glance"),
    params:
        datasets=list(dict.fromkeys([*config["datasets"], *config["sources"]])),
        recipes=VERDICT_RECIPES,
    conda:
        ENV
    log:
        job_log("verdicts"),
    script:
        "../scripts/verdicts.py"
