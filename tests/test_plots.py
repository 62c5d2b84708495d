"""Plot functions are pure: arrays in, a plotly Figure out, without streamlit."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import plotly.graph_objects as go

from nonlin_core import plots


def valid(fig: go.Figure) -> go.Figure:
    """The live figures skip plotly's validation when built; validate them here (raises on a bad key)."""
    go.Figure(fig.to_dict())
    return fig


def _points(n=20, classes=2):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 2)), np.arange(n) % classes


def test_binary_boundary_heatmap_and_points():
    X, y = _points()
    G = 10
    probs = np.stack([np.full((G, G), 0.3), np.full((G, G), 0.7)])
    fig = plots.decision_boundary(np.linspace(-2, 2, G), np.linspace(-2, 2, G), probs, X_train=X, y_train=y,
                                  X_test=X[:5], y_test=y[:5], class_names=("a", "b"), epoch=7, uirevision="u")
    valid(fig)
    heat = fig.data[0]
    assert heat.type == "heatmap" and np.allclose(np.asarray(heat.z), 0.7) and heat.zmin == 0 and heat.zmax == 1
    assert fig.layout.meta == {"epoch": 7} and fig.layout.uirevision == "u"
    scatters = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in scatters] == ["train · a", "train · b", "test · a", "test · b"]
    assert scatters[0].marker.color == plots.class_color(0) and scatters[2].marker.symbol == "circle-open"


def test_multiclass_boundary_codes_class_and_confidence():
    X, y = _points(classes=3)
    probs = np.zeros((3, 4, 4))
    probs[2] = 1.0
    probs[:, 0, 0] = [1 / 3, 1 / 3, 1 / 3]
    fig = plots.decision_boundary(np.arange(4.0), np.arange(4.0), probs, X_train=X, y_train=y, X_test=X, y_test=y,
                                  class_names=("a", "b", "c"))
    valid(fig)
    z = np.asarray(fig.data[0].z)
    assert np.isclose(z[1, 1], 2.999) and z[0, 0] < 1     # sure class 2 / a three-way tie
    assert fig.data[0].zmax == 3 and len(plots.boundary_colorscale(3)) == 6


def test_points_only_without_probabilities():
    X, y = _points()
    fig = valid(plots.decision_boundary(None, None, None, X_train=X, y_train=y, X_test=X, y_test=y,
                                        class_names=("a", "b"), large=True, equal_aspect=False))
    assert all(t.type == "scatter" for t in fig.data)


def test_curves_mean_and_band_over_seeds_and_thinning():
    T = 4000
    hist = {m: np.vstack([np.linspace(1, 0.1, T), np.linspace(1.2, 0.2, T)]) for m in
            ("train_loss", "test_loss", "train_acc", "test_acc")}
    fig = valid(plots.curves([("relu", hist), ("tanh", hist)], epochs=T, cols=2))
    lines = [t for t in fig.data if t.mode == "lines"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(lines) == 8 and len(bands) == 8                    # 2 metrics x 2 models x train/test
    assert len(lines[0].x) <= plots.MAX_CURVE_POINTS + 1 and lines[0].x[-1] == T
    assert np.isclose(lines[0].y[0], np.sqrt(1.2))                      # loss: the geometric mean over seeds
    assert fig.layout.yaxis.type == "log" and fig.layout.meta == {"epoch": T}
    assert [t.name for t in lines if t.showlegend] == ["relu · train", "relu · test", "tanh · train", "tanh · test"]
    assert {t.xaxis for t in lines} == {"x", "x2"} and fig.layout.xaxis2.domain[0] > fig.layout.xaxis.domain[1]
    assert [a.text for a in fig.layout.annotations] == ["<b>Loss</b>", "<b>Accuracy</b>"]
    single = valid(plots.curves([("", {k: v[:1] for k, v in hist.items()})], epochs=T, metrics=("acc",), large=True))
    assert [t.name for t in single.data] == ["train", "test"] and single.layout.font.size == 18


def _boundary_lines(fig: go.Figure) -> list:
    return [t for t in fig.data if t.type == "contour"]


def test_a_nearly_flat_linear_boundary_still_draws_its_half_probability_line():
    X, y = _points()
    xs = ys = np.linspace(-2, 2, 12)
    p1 = 0.5 + 0.01 * (xs[None, :] - ys[:, None])         # a linear model still unsure: P within 0.49..0.51
    fig = valid(plots.decision_boundary(xs, ys, np.stack([1 - p1, p1]), X_train=X, y_train=y, X_test=X, y_test=y,
                                        class_names=("a", "b")))
    (line,) = _boundary_lines(fig)
    assert line.contours.start == line.contours.end == 0.5 and line.contours.coloring == "none"
    assert np.allclose(np.asarray(line.z), p1) and line.showscale is False


def test_multiclass_boundary_lines_trace_each_class_border():
    X, y = _points(classes=3)
    probs = np.zeros((3, 3, 3))
    probs[0, :, 0], probs[1, :, 1], probs[2, :, 2] = 1.0, 1.0, 1.0   # one column per class
    fig = valid(plots.decision_boundary(np.arange(3.0), np.arange(3.0), probs, X_train=X, y_train=y, X_test=X,
                                        y_test=y, class_names=("a", "b", "c")))
    lines = _boundary_lines(fig)
    assert len(lines) == 3 and all(t.contours.start == 0 for t in lines)
    margin = np.asarray(lines[1].z)                            # class b: + in its own column, - elsewhere
    assert (margin[:, 1] > 0).all() and (margin[:, [0, 2]] < 0).all()
    assert not _boundary_lines(plots.decision_boundary(None, None, None, X_train=X, y_train=y, X_test=X, y_test=y,
                                                        class_names=("a", "b", "c")))


def test_loss_band_over_seeds_stays_positive_on_the_log_axis():
    T = 5
    loss = np.vstack([np.full(T, 1e-3), np.full(T, 1.0)])        # mean - std = 0 here: an arithmetic band hits 0
    hist = {"train_loss": loss, "test_loss": loss, "train_acc": np.full((2, T), 0.5), "test_acc": np.full((2, T), 0.5)}
    fig = valid(plots.curves([("relu", hist)] * 2, epochs=T))
    band = next(t for t in fig.data if t.fill == "toself" and t.yaxis == "y")
    centre = next(t for t in fig.data if t.mode == "lines" and t.yaxis == "y")
    assert np.all(np.asarray(band.y) > 0)
    assert np.allclose(centre.y, np.sqrt(1e-3)) and np.allclose(band.y[0], 1.0) and np.allclose(band.y[-1], 1e-3)
    centre, low, high = plots.seed_band(np.array([[0.4, 0.6], [0.6, 0.8]]), log=False)   # accuracy: mean ± std
    assert np.allclose(centre, [0.5, 0.7]) and np.allclose(low, [0.4, 0.6]) and np.allclose(high, [0.6, 0.8])
    assert plots.seed_band(np.ones((1, 3)), log=True)[1] is None


def test_confusion_activations_layers_dead():
    assert plots.confusion_matrix([[3, 1], [0, 4]], ("a", "b")).data[0].z.tolist() == [[3, 1], [0, 4]]
    x = np.linspace(-1, 1, 5)
    fig = plots.activation_curves(x, {"relu": (x, x), "tanh": (x, x)}, {"relu": "max(0, x)"})
    assert len(fig.data) == 4
    pre = np.arange(12.0).reshape(4, 3)
    fig = plots.layer_heatmaps(pre, np.maximum(pre - 5, 0), np.array([1, 0, 1, 0]), ("a", "b"),
                               np.array([False, False, True]), activation="relu", layer=1)
    assert len(fig.data) == 3 and "1/3 dead" in fig.layout.annotations[2].text
    assert fig.data[0].z.ravel().tolist() == [0, 0, 1, 1]      # rows sorted by label
    assert plots.dead_share_bars([0.0, 0.5]).data[0].y == (0.0, 0.5)


def test_plots_do_not_import_streamlit():
    code = "import sys, nonlin_core.plots, nonlin_core.inspection, nonlin_core.uploads; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_log_ticks_fit_the_data():
    assert plots.log_ticks([np.array([0.03, 0.7])]) == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
    wide = plots.log_ticks([np.array([1e-6, np.nan, 3.0]), np.array([0.0, -1.0])])
    assert len(wide) <= 8 and wide[0] <= 1e-6 and wide[-1] >= 3.0 and all(np.log10(t).is_integer() for t in wide)
    assert plots.log_ticks([np.zeros((1, 0))]) == [0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
    narrow = plots.log_ticks([np.array([0.693, 0.65, 0.571])])      # a short run's loss: between two 1-2-5 ticks
    inside = [t for t in narrow if 0.571 <= t <= 0.693]
    assert len(inside) >= 2 and all(f"{t:g}" == str(t) for t in inside), narrow


def test_boundary_title_and_legend_get_lines_of_their_own_and_small_multiples_drop_the_key():
    X, y = _points()
    probs = np.stack([np.full((4, 4), 0.4), np.full((4, 4), 0.6)])
    kw = dict(X_train=X, y_train=y, X_test=X, y_test=y, class_names=("a", "b"))
    fig = valid(plots.decision_boundary(np.arange(4.0), np.arange(4.0), probs, title="Decision boundary", **kw))
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"     # the top line
    assert fig.layout.legend.y > 1 and fig.layout.legend.xanchor == "left"                 # under it, above the plot
    assert fig.layout.margin.t >= 70 and fig.data[0].showscale
    small = valid(plots.decision_boundary(np.arange(4.0), np.arange(4.0), probs, title="relu", show_legend=False, **kw))
    assert small.data[0].showscale is False and small.layout.margin.t == 40
    assert not any(t.showlegend for t in small.data if t.type == "scatter")


def test_curves_before_training_frame_the_loss_axis_on_its_ticks():
    empty = {m: np.empty((1, 0)) for m in ("train_loss", "test_loss", "train_acc", "test_acc")}
    fig = valid(plots.curves([("", empty)], epochs=600))
    ticks = list(fig.layout.yaxis.tickvals)
    assert fig.layout.yaxis.type == "log"
    assert np.allclose(fig.layout.yaxis.range, [np.log10(ticks[0]), np.log10(ticks[-1])])   # log units
    trained = valid(plots.curves([("", {m: np.linspace(1, 0.1, 50)[None] for m in empty})], epochs=600))
    assert trained.layout.yaxis.range is None                                                 # data: autorange
