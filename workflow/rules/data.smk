rule prepare_data:
    """Read a configured source; write stratified train/valid/test tables and the label names."""
    input:
        # ancient: the files' times say nothing (a copy with an older time, a project moved to another
        # machine); the fingerprints below rerun this when their content changes, and only then
        lambda w: [ancient(f) for f in source_files(config["sources"][w.dataset])],
    output:
        **per_split("split"),
        labels=path("labels"),
    params:
        # what the data depends on: a change reruns it and everything after. The script reads the
        # whole source from the config; its check thresholds are left out here (lstmptq.config.NOT_DATA_KEYS)
        spec=lambda w: data_settings(config["sources"][w.dataset]),
        fingerprints=lambda w: source_fingerprints(config["sources"][w.dataset]),
    conda:
        ENV
    log:
        job_log("prepare_data", "dataset"),
    script:
        "../scripts/prepare_data.py"
