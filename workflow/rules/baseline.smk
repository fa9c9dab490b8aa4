rule tfidf_baseline:
    """TF-IDF + logistic regression on the same tokens: is the LSTM training any good?"""
    input:
        data=expand("results/{{dataset}}/data/{split}.parquet", split=SPLITS),
        labels="results/{dataset}/data/labels.json",
        vocab="results/{dataset}/tokens/vocab.json",
    output:
        "results/{dataset}/baseline/tfidf_logreg/metrics.json",
    params:
        seed=SEEDS[0],
    conda:
        ENV
    log:
        "logs/{dataset}/tfidf_baseline.log",
    benchmark:
        "benchmarks/{dataset}/tfidf_baseline.tsv"
    script:
        "../scripts/tfidf_baseline.py"
