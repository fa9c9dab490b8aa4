rule prepare_data:
    """Read a configured source; write stratified train/valid/test tables and the label names."""
    input:
        lambda w: source_files(config["sources"][w.dataset]),
    output:
        splits=expand("results/{{dataset}}/data/{split}.parquet", split=SPLITS),
        labels="results/{dataset}/data/labels.json",
    params:
        spec=lambda w: config["sources"][w.dataset],
    conda:
        ENV
    log:
        "logs/{dataset}/prepare_data.log",
    benchmark:
        "benchmarks/{dataset}/prepare_data.tsv"
    script:
        "../scripts/prepare_data.py"
