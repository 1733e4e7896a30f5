"""The whole analysis protocol: images -> layer features -> projections -> WD / BD / CHI.

:func:`analyze_layers` runs the paper's protocol (features of several layers in one pass, PCA to
50, t-SNE to 2-D over several seeded runs, WD / BD / CHI mean and standard deviation per layer);
:func:`generalization_score` is its one-layer form used to compare restoration models (paper
Sec. 4.3 / Fig. 11: the lower the CHI of a model's features across its test degradations, the
more alike it treats them, i.e. the better it generalizes). :func:`load_patch_folders` reads
labelled image folders into equally sized patches, skipping (and reporting) files it cannot use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ddriqa.errors import DDRIQAError, InputError

__all__ = ["LayerAnalysis", "analyze_layers", "generalization_score", "load_patch_folders"]

METRIC_COLUMNS = [
    "layer", "n_samples", "n_classes", "n_runs",
    "wd_mean", "wd_std", "bd_mean", "bd_std", "chi_mean", "chi_std",
]


@dataclass
class LayerAnalysis:
    """Result of :func:`analyze_layers`.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per layer: ``layer, n_samples, n_classes, n_runs, wd_mean, wd_std, bd_mean,
        bd_std, chi_mean, chi_std``.
    runs : pandas.DataFrame
        One row per layer and run: ``layer, run, seed, wd, bd, chi``.
    projections : dict
        ``{layer: Projection}``.
    summaries : dict
        ``{layer: DispersionSummary}``.
    """

    metrics: object
    runs: object
    projections: dict = field(default_factory=dict)
    summaries: dict = field(default_factory=dict)


def analyze_layers(
    model, images, labels, layers=("ResBlock16",), *, method="pca+tsne", n_pca=50, runs=5, seed=0,
    batch_size=64, perplexity=30.0, max_iter=1000, on_layer=None,
):
    """Measure how well each layer's features cluster by degradation.

    Parameters
    ----------
    model : torch.nn.Module
        Network with ``forward_features`` (see :func:`~ddriqa.models.backbones.build_backbone`).
    images : list of equally sized images or paths
    labels : array-like of shape (n_images,)
        Degradation of each image (at least two distinct values).
    layers : sequence of str, default=("ResBlock16",)
    method, n_pca, runs, seed, perplexity, max_iter :
        See :func:`~ddriqa.analysis.projection.project`. Every layer uses the same ``seed``.
    batch_size : int, default=64
    on_layer : callable, optional
        Called as ``on_layer(layer, projection, summary)`` as soon as a layer is measured (so that
        a caller can save results layer by layer).

    Returns
    -------
    LayerAnalysis

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.models.backbones import random_backbone
    >>> from ddriqa.analysis.protocol import analyze_layers
    >>> rng = np.random.default_rng(0)
    >>> clean = rng.integers(60, 200, (12, 16, 16, 3)).astype(np.uint8)
    >>> noisy = np.clip(clean + rng.normal(0, 40, clean.shape), 0, 255).astype(np.uint8)
    >>> res = analyze_layers(random_backbone(0, num_blocks=2, num_features=8),
    ...                      np.concatenate([clean, noisy]), ["clean"] * 12 + ["noise"] * 12,
    ...                      layers=["Conv1", "ResBlock2"], runs=2, max_iter=250)
    >>> list(res.metrics["layer"])
    ['Conv1', 'ResBlock2']
    """
    import pandas as pd

    from ddriqa.analysis.dispersion import dispersion_over_runs
    from ddriqa.analysis.projection import project
    from ddriqa.features.layers import extract_layer_features

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise InputError(f"need at least two degradation labels to measure clustering; got {np.unique(labels).tolist()}")
    layers = [layers] if isinstance(layers, str) else list(layers)
    feats = extract_layer_features(model, images, layers, batch_size=batch_size)
    metric_rows, run_rows, projections, summaries = [], [], {}, {}
    for layer in layers:
        proj = project(
            feats.pop(layer), labels, method=method, n_pca=n_pca, runs=runs, seed=seed,
            perplexity=perplexity, max_iter=max_iter,
        )
        summary = dispersion_over_runs(proj)
        projections[layer], summaries[layer] = proj, summary
        metric_rows.append({"layer": layer, **summary.as_row()})
        for r, row in summary.runs.iterrows():
            run_rows.append({"layer": layer, "run": int(row["run"]), "seed": proj.seeds[r],
                             "wd": row["wd"], "bd": row["bd"], "chi": row["chi"]})
        if on_layer is not None:
            on_layer(layer, proj, summary)
    return LayerAnalysis(
        metrics=pd.DataFrame(metric_rows, columns=METRIC_COLUMNS),
        runs=pd.DataFrame(run_rows, columns=["layer", "run", "seed", "wd", "bd", "chi"]),
        projections=projections,
        summaries=summaries,
    )


def generalization_score(model, images, labels, layer="ResBlock16", *, runs=5, seed=0, **kwargs):
    """CHI of a restoration model's features across degraded test sets (lower = better generalization).

    A model that treats its test degradations alike maps them to one homogeneous cloud (low CHI);
    one that "sees" them as different inputs separates them (high CHI). Paper Fig. 11: RRDB trained
    on clean data 322.16, on blur+noise 14.04, with DDR guidance 4.95. CHI is a rough index; compare
    models on the same test sets, layer and seeds.

    Parameters
    ----------
    model : torch.nn.Module
    images : list of equally sized images or paths
    labels : array-like of shape (n_images,)
        The test set of each image.
    layer : str, default="ResBlock16"
    runs, seed, **kwargs : see :func:`analyze_layers`.

    Returns
    -------
    DispersionSummary
    """
    res = analyze_layers(model, images, labels, [layer], runs=runs, seed=seed, **kwargs)
    return res.summaries[layer]


def _centre_crop(img, patch):
    h, w = img.shape[:2]
    top, left = (h - patch) // 2, (w - patch) // 2
    return np.ascontiguousarray(img[top:top + patch, left:left + patch])


def load_patch_folders(data, *, patch=32, limit=None, on_skip=None):
    """Read labelled image folders into equally sized centre-crop patches.

    Parameters
    ----------
    data : dict or sequence of (label, folder)
        ``{label: folder}``; every image directly in the folder is used (sorted by name).
    patch : int or None, default=32
        Side of the centre crop; images smaller than it are skipped. None keeps whole images
        (they must then all have the same size).
    limit : int, optional
        Use at most the first ``limit`` images of each folder.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for each file that is skipped.

    Returns
    -------
    images : list of uint8 ndarray
    labels : numpy.ndarray of str
    paths : list of str
    skipped : list of (path, reason)
    """
    from ddriqa.io import list_images, read_image

    pairs = list(data.items()) if isinstance(data, dict) else list(data)
    if not pairs:
        raise InputError("no labelled folder given")
    images, labels, paths, skipped = [], [], [], []
    shape0 = None
    for label, folder in pairs:
        try:
            files = list_images(folder)
        except (OSError, DDRIQAError) as exc:
            raise InputError(f"{folder}: cannot list images ({exc})") from None
        if not files:
            raise InputError(f"{folder}: no image files (label {label!r})")
        if limit is not None:
            files = files[: int(limit)]
        for f in files:
            try:
                img = read_image(f, dtype="uint8")
                h, w = img.shape[:2]
                if patch is not None:
                    if h < patch or w < patch:
                        raise InputError(f"image of {h}x{w} is smaller than the {patch}x{patch} patch")
                    img = _centre_crop(img, int(patch))
                elif shape0 is not None and img.shape != shape0:
                    raise InputError(f"image of shape {img.shape} differs from the first image's {shape0}")
                shape0 = shape0 or img.shape
            except (OSError, ValueError, DDRIQAError) as exc:
                reason = getattr(exc, "reason", None) or str(exc)
                skipped.append((str(f), reason))
                if on_skip is not None:
                    on_skip(str(f), reason)
                continue
            images.append(img)
            labels.append(str(label))
            paths.append(str(f))
    return images, np.asarray(labels), paths, skipped
