"""ddriqa.classification: distortion classifiers, their pickle-free files and the benchmark.

Modules (imported explicitly, nothing is loaded here):

- :mod:`~ddriqa.classification.pipelines`: ``make_ddr_classifier``, ``make_brisque_classifier``
- :mod:`~ddriqa.classification.pca`: ``StreamingPCA`` (PCA over chunked features), ``streaming_gram``
- :mod:`~ddriqa.classification.scaling`: ``GlobalScaler``
- :mod:`~ddriqa.classification.persistence`: ``save_classifier``, ``load_classifier``
- :mod:`~ddriqa.evaluation.protocol`: content-disjoint split benchmark (``run_benchmark``)
"""
