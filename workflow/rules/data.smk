rule prepare_data:
    """Read a configured source; write stratified train/valid/test tables and the label names."""
    input:
        lambda w: source_files(config["sources"][w.dataset]),
    output:
        **per_split("split"),
        labels=path("labels"),
    params:
        spec=lambda w: config["sources"][w.dataset],
    conda:
        ENV
    log:
        job_log("prepare_data", "dataset"),
    benchmark:
        job_log("prepare_data", "dataset", ext="tsv")
    script:
        "../scripts/prepare_data.py"
