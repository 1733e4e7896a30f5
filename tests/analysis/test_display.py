"""The scatterplot display draws off-screen (Agg) with one colour/marker per degradation."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from ddriqa.analysis.dispersion import dispersion_over_runs  # noqa: E402
from ddriqa.analysis.display import DegradationScatterDisplay  # noqa: E402
from ddriqa.analysis.projection import Projection  # noqa: E402
from ddriqa.errors import InputError  # noqa: E402


def _projection():
    rng = np.random.default_rng(0)
    labels = np.repeat(["clean", "blur", "noise"], 10)
    pts = rng.normal(size=(2, 30, 2)) + np.repeat(np.arange(3), 10)[None, :, None] * 5.0
    return Projection(points=pts, labels=labels, method="pca+tsne", seeds=(1, 2), n_pca=50)


def test_from_projection_draws_groups_and_title():
    import matplotlib.pyplot as plt

    proj = _projection()
    disp = DegradationScatterDisplay.from_projection(proj, title="ResBlock16")
    try:
        assert disp.ax_.figure is disp.figure_
        expected = dispersion_over_runs(proj).format("chi")
        assert disp.ax_.get_title() == f"ResBlock16\n{expected}"
        # one collection per degradation, in order of first appearance, distinct colours and markers
        cols = disp.ax_.collections
        assert [c.get_label() for c in cols] == ["clean", "blur", "noise"]
        assert sum(len(c.get_offsets()) for c in cols) == 30
        np.testing.assert_allclose(cols[1].get_offsets(), proj.points[0, 10:20], atol=1e-12)
        colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in cols}
        assert len(colours) == 3
        markers = {c.get_paths()[0].vertices.round(3).tobytes() for c in cols}
        assert len(markers) == 3
    finally:
        plt.close(disp.figure_)


def test_plot_on_given_ax_and_save(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    proj = _projection()
    disp = DegradationScatterDisplay(proj.points[1], proj.labels, title="Conv1").plot(ax=ax, legend=False)
    assert disp.ax_ is ax and disp.figure_ is fig
    assert ax.get_legend() is None and ax.get_title() == "Conv1"
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_from_features_and_bad_points():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (12, 40)), rng.normal(5, 1, (12, 40))])
    disp = DegradationScatterDisplay.from_features(X, np.repeat(["a", "b"], 12), runs=2, max_iter=250)
    assert "CHI:" in disp.ax_.get_title()
    plt.close(disp.figure_)
    with pytest.raises(InputError, match="shape"):
        DegradationScatterDisplay(np.zeros((5, 3)), np.zeros(5)).plot()
    plt.close("all")
