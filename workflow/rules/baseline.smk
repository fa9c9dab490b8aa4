rule tfidf_baseline:
    """TF-IDF + logistic regression on the same tokens: is the LSTM training any good?"""
    input:
        **per_split("split"),
        labels=path("labels"),
        vocab=path("vocab"),
    output:
        path("baseline"),
    params:
        seed=config["seeds"][0],
    conda:
        ENV
    log:
        job_log("tfidf_baseline", "dataset"),
    script:
        "../scripts/tfidf_baseline.py"
