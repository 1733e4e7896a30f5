"""ddriqa.jobs: what the commands run, usable from Python too.

Modules (imported explicitly, nothing is loaded here):

- :mod:`~ddriqa.jobs.batches`: the reader thread and the fault-isolating batch loop
- :mod:`~ddriqa.jobs.classify`: ``classify_files`` (one CSV row per image, resumable)
- :mod:`~ddriqa.jobs.extract`: ``extract_files`` (features into a ``.npy`` memory map), ``build_extractor``
- :mod:`~ddriqa.jobs.dask_runner`: the same jobs on a Dask distributed cluster
- :mod:`~ddriqa.jobs.demo`: the self-contained demo (LIVE-like set from scikit-image photos)
"""
