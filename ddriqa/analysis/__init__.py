"""Degradation-representation analysis: does a network see these degradations differently?

The analysis method of Liu et al., "Discovering Distinctive 'Semantics' in Super-Resolution
Networks" (arXiv 2108.00406), one module per step:

* :mod:`ddriqa.analysis.testsets` - content-aligned clean / blur / noise (and degree) LR test patches;
* :mod:`ddriqa.features.layers` - several layers' features in one forward pass; seeded random backbones;
* :mod:`ddriqa.analysis.projection` - PCA to 50, then t-SNE to 2-D, over seeded runs;
* :mod:`ddriqa.analysis.dispersion` - WD, BD and the Calinski-Harabasz index, mean and std over runs;
* :mod:`ddriqa.analysis.display` - scatterplots (matplotlib, the ``plots`` extra);
* :mod:`ddriqa.analysis.protocol` - the whole protocol per layer, and the CHI generalization score.

Nothing is imported here, so that importing the package stays cheap.
"""
