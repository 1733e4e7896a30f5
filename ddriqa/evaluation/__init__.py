"""ddriqa.evaluation: how well a distortion classifier identifies distortions, measured honestly.

Modules (imported explicitly, nothing is loaded here):

- :mod:`~ddriqa.evaluation.protocol`: content-disjoint splits, per-class precision and recall,
  their median / IQR summary and Markdown tables
- :mod:`~ddriqa.evaluation.identification`: the benchmark behind ``ddriqa benchmark`` (methods,
  features cached once per image, every method on the same splits)
"""
