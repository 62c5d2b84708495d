"""Pure plotting: arrays in, plotly Figures out (no streamlit). Colours are fixed per class and per
model; `uirevision` keeps zoom across redraws; `large=True` is the projector mode.

The two figures redrawn while a run streams (decision_boundary, curves) are built as one dict and
wrapped without plotly's per-attribute validation (20-40 ms each otherwise); tests validate them."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

CLASS_COLORS = ("#2563eb", "#ea580c", "#16a34a", "#dc2626", "#7c3aed", "#ca8a04", "#0891b2", "#db2777",
                "#4b5563", "#65a30d")
MODEL_COLORS = ("#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#0e7490", "#a16207")
MAX_CURVE_POINTS = 500     # a panel is at most ~600 px wide: more points draw nothing more, but cost bytes and time


def class_color(k: int) -> str:
    return CLASS_COLORS[k % len(CLASS_COLORS)]


def model_color(k: int) -> str:
    return MODEL_COLORS[k % len(MODEL_COLORS)]


def tint(color: str, share: float) -> str:
    """color mixed with white: share 0 = the colour, 1 = white."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(c + (255 - c) * share) for c in (r, g, b)]
    return f"rgb({mix[0]},{mix[1]},{mix[2]})"


def _layout(*, large: bool, height: int, uirevision: str, title: str = "") -> dict:
    size = 18 if large else 12
    return {"height": round(height * (1.2 if large else 1)), "uirevision": uirevision, "font": {"size": size},
            "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
            "title": {"text": title, "font": {"size": size + 2}, "x": 0.01, "xanchor": "left"},
            "legend": {"font": {"size": size - 1}}}


def _axis(large: bool, title: str | None = None, **kw) -> dict:
    """An axis dict with explicit font sizes (a theme's template would otherwise keep its own)."""
    size = 16 if large else 11
    axis = {"tickfont": {"size": size}, **kw}
    if title is not None:
        axis["title"] = {"text": title, "font": {"size": size + 1}}
    return axis


def _style(fig: go.Figure, *, large: bool, height: int, uirevision: str, title: str = "") -> go.Figure:
    fig.update_xaxes(tickfont_size=16 if large else 11, title_font_size=17 if large else 12)
    fig.update_yaxes(tickfont_size=16 if large else 11, title_font_size=17 if large else 12)
    return fig.update_layout(_layout(large=large, height=height, uirevision=uirevision, title=title))


def _fast_figure(data: list[dict], layout: dict) -> go.Figure:
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def boundary_colorscale(n_classes: int) -> list[list]:
    """Binary: P(class 1) from class 0's tint through white to class 1's. Multiclass: one band per class,
    pale (unsure) to its tint (sure), for z = class + confidence."""
    if n_classes == 2:
        return [[0.0, tint(class_color(0), 0.55)], [0.5, "rgb(250,250,250)"], [1.0, tint(class_color(1), 0.55)]]
    scale = []
    for c in range(n_classes):
        scale += [[c / n_classes, tint(class_color(c), 0.92)], [(c + 1) / n_classes, tint(class_color(c), 0.55)]]
    return scale


def decision_boundary(xs: np.ndarray | None, ys: np.ndarray | None, probs: np.ndarray | None, *,
                      X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                      class_names: tuple[str, ...] | list[str], axis_titles: tuple[str, str] = ("x1", "x2"),
                      title: str = "", equal_aspect: bool = True, epoch: int = 0, large: bool = False,
                      uirevision: str = "boundary", height: int = 460, show_legend: bool = True) -> go.Figure:
    """Heatmap of class probabilities (classes, G, G) over grid axes xs, ys (None: points only), train
    points solid, test points outlined; X_* are (n, 2) in the axes' units. show_legend=False drops the legend
    and the colour bar (small multiples)."""
    n_classes = len(class_names)
    data: list[dict] = []
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float32)
        heat = {"type": "heatmap", "x": xs, "y": ys, "zmin": 0.0, "colorscale": boundary_colorscale(n_classes),
                "name": "boundary", "zsmooth": "best" if n_classes == 2 else False}   # class codes must not blend
        if n_classes == 2:
            heat.update(z=probs[1], zmax=1.0, showscale=show_legend,   # small multiples: no key, more plot
                        colorbar={"title": {"text": f"P({class_names[1]})"}, "thickness": 12, "len": 0.8},
                        hovertemplate="%{x:.3g}, %{y:.3g}<br>P(" + str(class_names[1]) + ") = %{z:.2f}<extra></extra>")
        else:
            best, sure = probs.argmax(0), probs.max(0)
            confidence = np.clip((sure - 1 / n_classes) / (1 - 1 / n_classes), 0, 1)
            names = np.array([str(c) for c in class_names], dtype=object)
            heat.update(z=(best + 0.999 * confidence).astype(np.float32), zmax=float(n_classes), showscale=False,
                        customdata=np.stack([names[best], np.round(sure, 2)], axis=-1),
                        hovertemplate="%{x:.3g}, %{y:.3g}<br>%{customdata[0]} (p=%{customdata[1]})<extra></extra>")
        data.append(heat)
        data += _border_lines(xs, ys, probs)
    for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        X, y = np.asarray(X), np.asarray(y)
        for c in range(n_classes):
            pts = X[y == c]
            color = class_color(c)
            marker = ({"color": color, "size": 6, "line": {"color": "white", "width": 0.7}} if split == "train" else
                      {"color": color, "size": 7, "symbol": "circle-open", "line": {"width": 1.8}})
            data.append({"type": "scatter", "x": pts[:, 0], "y": pts[:, 1], "mode": "markers", "marker": marker,
                         "name": f"{split} · {class_names[c]}", "legendgroup": split, "showlegend": show_legend,
                         "hoverinfo": "skip"})
    xaxis = _axis(large, axis_titles[0], showgrid=False, zeroline=False)
    yaxis = _axis(large, axis_titles[1], showgrid=False, zeroline=False)
    if xs is not None and ys is not None:
        xaxis["range"], yaxis["range"] = [float(xs[0]), float(xs[-1])], [float(ys[0]), float(ys[-1])]
    if equal_aspect:
        xaxis["constrain"] = "domain"
        yaxis.update(scaleanchor="x", scaleratio=1, constrain="domain")
    layout = _layout(large=large, height=height, uirevision=uirevision, title=title)
    # the legend gets a line of its own under the title: beside it, its wrapped rows ran into the title
    layout["legend"].update(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0)
    if title and show_legend:
        layout["margin"]["t"] = 96 if large else 78
        layout["title"].update(yref="container", y=1.0, yanchor="top", pad={"t": 10})
    layout.update(xaxis=xaxis, yaxis=yaxis, meta={"epoch": int(epoch)}, plot_bgcolor="white")
    return _fast_figure(data, layout)


def _border_lines(xs, ys, probs: np.ndarray) -> list[dict]:
    """The decision boundary as contour lines: binary, P(class 1) = 0.5; multiclass, each class's border
    (its probability minus the best other class's = 0). Drawn even when the heatmap is nearly flat."""
    if probs.shape[0] == 2:
        fields, level = [probs[1]], 0.5
    else:
        fields, level = [probs[c] - np.delete(probs, c, axis=0).max(0) for c in range(probs.shape[0])], 0.0
    return [{"type": "contour", "x": xs, "y": ys, "z": z.astype(np.float32), "showscale": False, "hoverinfo": "skip",
             "showlegend": False, "name": "boundary line", "line": {"color": "#111827", "width": 2},
             "contours": {"start": level, "end": level, "size": 1.0, "coloring": "none"}} for z in fields]


def _thin(values: np.ndarray, points: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(K, T) history -> epochs 1..T and values, strided to at most `points` (and the last epoch)."""
    T = values.shape[1]
    step = max(1, -(-T // points))
    idx = np.arange(0, T, step)
    if T and idx[-1] != T - 1:
        idx = np.append(idx, T - 1)
    return idx + 1, values[:, idx]


def _f32(values: np.ndarray) -> np.ndarray:
    """Plotted values as float32: half the bytes of float64 on the wire, 7 digits, more than any axis shows."""
    return np.asarray(values, dtype=np.float32)


METRIC_TITLES = {"loss": "Loss", "acc": "Accuracy"}


def log_ticks(values: list[np.ndarray], *, max_ticks: int = 8) -> list[float]:
    """Plainly labelled log-axis ticks covering the positive finite values: 1-2-5 steps, or every
    k-th power of ten when that would make more than max_ticks."""
    v = np.concatenate([np.asarray(x, dtype=np.float64).ravel() for x in values] or [np.ones(1)])
    v = v[np.isfinite(v) & (v > 0)]
    lo, hi = (np.floor(np.log10(v.min())), np.ceil(np.log10(v.max()))) if v.size else (-1.0, 0.0)
    decades = np.arange(lo, max(hi, lo + 1) + 1)
    if 3 * len(decades) <= max_ticks + 2:
        ticks = [float(m * 10.0 ** d) for d in decades for m in (1, 2, 5)]
        if v.size and sum(v.min() <= t <= v.max() for t in ticks) < 2:      # e.g. a loss from 0.69 to 0.57
            ticks = sorted(set(ticks) | set(_linear_ticks(float(v.min()), float(v.max()))))
        return ticks
    step = int(np.ceil(len(decades) / max_ticks))
    return [float(10.0 ** d) for d in decades[::step]]


def _linear_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round ticks (a 1-2-5 step) inside [lo, hi], about `count` of them: a narrow log axis still gets labels."""
    if hi <= lo:
        return [float(f"{lo:.3g}")]
    raw = (hi - lo) / count
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = np.ceil(lo / step) * step
    return [float(f"{t:.6g}") for t in np.arange(first, hi + step * 1e-9, step)]


def seed_band(v: np.ndarray, *, log: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(K, T) over K seeds -> the centre line and a one-std band (None for one seed). log: the geometric mean
    ×/÷ the geometric std, so a band on a log axis stays positive; else mean ± std."""
    if v.shape[0] < 2 or not v.shape[1]:
        return v[0] if v.shape[0] else np.zeros(0), None, None
    with np.errstate(all="ignore"):
        if log:
            logs = np.log(np.where(v > 0, v, np.nan))
            centre, spread = np.nanmean(logs, 0), np.nanstd(logs, 0)
            return np.exp(centre), np.exp(centre - spread), np.exp(centre + spread)
        mean, std = np.nanmean(v, 0), np.nanstd(v, 0)
        return mean, mean - std, mean + std


def curves(series: list[tuple[str, dict[str, np.ndarray]]], *, epochs: int, metrics: tuple[str, ...] = ("loss", "acc"),
           cols: int = 1, large: bool = False, uirevision: str = "curves", height: int = 250) -> go.Figure:
    """One panel per metric ('loss', 'acc'): train (dashed) and test (solid) per model. Each model's history
    is {train_loss, test_loss, ...} -> (K, T) over K seeds: the centre and a one-std band when K > 1 (seed_band)."""
    rows = -(-len(metrics) // cols)
    single = len(series) == 1
    layout = _layout(large=large, height=height * rows, uirevision=uirevision)
    layout["margin"]["t"] = 84 if large else 70       # the legend (up to two rows), then the panel titles
    layout["legend"].update(orientation="h", yref="container", yanchor="top", y=1.0, x=0)
    layout.update(meta={"epoch": _last_epoch(series)}, annotations=[])
    data: list[dict] = []
    hgap, vgap = 0.1, 0.22 / rows
    for p, metric in enumerate(metrics):
        r, c = divmod(p, cols)
        suffix = "" if p == 0 else str(p + 1)
        x0 = c / cols + (hgap / 2 if c else 0)
        x1 = (c + 1) / cols - (hgap / 2 if c < cols - 1 else 0)
        y1 = 1 - r / rows - (vgap / 2 if r else 0)
        y0 = 1 - (r + 1) / rows + (vgap / 2 if r < rows - 1 else 0)
        xaxis = _axis(large, "epoch" if r == rows - 1 else None, domain=[x0, x1], anchor="y" + suffix,
                      range=[1, max(epochs, 2)])
        yaxis = _axis(large, domain=[y0, y1], anchor="x" + suffix)
        if metric == "loss":
            losses = [h[f"{split}_loss"] for _, h in series for split in ("train", "test")]
            ticks = log_ticks(losses)
            yaxis.update(type="log", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])
            if not any(np.isfinite(np.asarray(v, dtype=np.float64)).any() for v in losses):
                yaxis.update(range=[np.log10(ticks[0]), np.log10(ticks[-1])])   # no data: autorange squeezes ticks
        else:
            yaxis.update(range=[0, 1.02], tickformat=".0%")
        layout["xaxis" + suffix], layout["yaxis" + suffix] = xaxis, yaxis
        layout["annotations"].append({"text": f"<b>{METRIC_TITLES[metric]}</b>", "x": x0, "y": y1, "xref": "paper",
                                      "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 15 if large else 12}})
        for m, (label, history) in enumerate(series):
            for split, dash in (("train", "dash"), ("test", "solid")):
                x, v = _thin(np.atleast_2d(np.asarray(history[f"{split}_{metric}"], dtype=np.float64)))
                color = model_color(m) if not single else model_color(0 if split == "test" else 1)
                name = split if single else f"{label} · {split}"
                axes = {"xaxis": "x" + suffix, "yaxis": "y" + suffix}
                mean, low, high = seed_band(v, log=metric == "loss")
                if low is not None:
                    data.append({"type": "scatter", "x": np.concatenate([x, x[::-1]]),
                                 "y": _f32(np.concatenate([high, low[::-1]])), "fill": "toself",
                                 "fillcolor": tint(color, 0.75), "line": {"width": 0}, "hoverinfo": "skip",
                                 "showlegend": False, "legendgroup": name, **axes})
                data.append({"type": "scatter", "x": x, "y": _f32(mean), "mode": "lines", "name": name, "legendgroup": name,
                             "showlegend": p == 0, "line": {"color": color, "dash": dash, "width": 2}, **axes})
    return _fast_figure(data, layout)


def _last_epoch(series) -> int:
    return int(max((np.shape(h["test_loss"])[-1] for _, h in series), default=0))


def confusion_matrix(matrix: list[list[int]] | np.ndarray, class_names: tuple[str, ...] | list[str], *,
                     large: bool = False, height: int = 300) -> go.Figure:
    """Counts, rows = true class, columns = predicted."""
    m = np.asarray(matrix)
    names = [str(c) for c in class_names]
    fig = go.Figure(go.Heatmap(z=m, x=names, y=names, colorscale="Blues", showscale=False, text=m,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_xaxes(title_text="predicted", type="category", side="bottom")
    fig.update_yaxes(title_text="true", type="category", autorange="reversed")
    return _style(fig, large=large, height=height, uirevision="confusion")


def activation_curves(x: np.ndarray, table: dict[str, tuple[np.ndarray, np.ndarray]], formulas: dict[str, str], *,
                      cols: int = 4, large: bool = False) -> go.Figure:
    """One small panel per activation: f(x) solid, f'(x) dashed."""
    names = list(table)
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"<b>{n}</b>  {formulas.get(n, '')}" for n in names],
                        horizontal_spacing=0.05, vertical_spacing=0.12)
    for i, name in enumerate(names):
        y, dy = table[name]
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", line={"color": model_color(0), "width": 2}, name="f(x)",
                                 legendgroup="f", showlegend=i == 0), row=r, col=c)
        fig.add_trace(go.Scatter(x=x, y=dy, mode="lines", line={"color": model_color(1), "width": 2, "dash": "dash"},
                                 name="f′(x)", legendgroup="df", showlegend=i == 0), row=r, col=c)
    fig.update_yaxes(range=[-1.5, 3.0], zeroline=True, zerolinecolor="#9ca3af")
    fig.update_xaxes(zeroline=True, zerolinecolor="#9ca3af")
    fig.update_annotations(font_size=16 if large else 12)
    fig.update_layout(legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "x": 0})
    return _style(fig, large=large, height=200 * rows + 60, uirevision="activations")


def layer_heatmaps(pre: np.ndarray, post: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...] | list[str],
                   dead: np.ndarray, *, activation: str, layer: int, large: bool = False) -> go.Figure:
    """Samples (rows, sorted by true label) x units: the label strip, pre-activation, post-activation.
    Dead units' columns are marked ✕ in the post panel."""
    order = np.argsort(labels, kind="stable")
    pre, post, labels = pre[order], post[order], np.asarray(labels)[order]
    n, width = pre.shape
    n_classes = len(class_names)
    rows = [f"#{i}" for i in range(n)]
    units = [f"u{j + 1}" + (" ✕" if dead[j] else "") for j in range(width)]
    fig = make_subplots(rows=1, cols=3, column_widths=[0.06, 0.47, 0.47], horizontal_spacing=0.03, shared_yaxes=True,
                        subplot_titles=["label", "before (pre-activation)",
                                        f"after {activation}" + (f" — {int(dead.sum())}/{width} dead" if dead.any() else "")])
    strip = [[c / max(n_classes - 1, 1), class_color(c)] for c in range(n_classes)]
    if n_classes == 1:
        strip = [[0, class_color(0)], [1, class_color(0)]]
    fig.add_trace(go.Heatmap(z=labels[:, None], y=rows, x=["y"], colorscale=strip, showscale=False, zmin=0,
                             zmax=max(n_classes - 1, 1), text=[[str(class_names[k])] for k in labels],
                             hovertemplate="%{y}: %{text}<extra></extra>"), row=1, col=1)
    limit = float(np.nanmax(np.abs(np.concatenate([pre.ravel(), post.ravel()])))) if pre.size else 1.0
    for col, values, show in ((2, pre, False), (3, post, True)):          # one colour scale for both panels
        fig.add_trace(go.Heatmap(z=values, x=units, y=rows, colorscale="RdBu_r", zmid=0, zmin=-limit or -1,
                                 zmax=limit or 1, showscale=show, colorbar={"thickness": 10, "len": 0.9},
                                 hovertemplate="%{y} %{x}: %{z:.3f}<extra></extra>"), row=1, col=col)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(tickangle=0, showgrid=False)
    fig.update_annotations(font_size=15 if large else 12)
    return _style(fig, large=large, height=min(120 + 6 * n, 520), uirevision=f"layer{layer}",
                  title=f"hidden layer {layer} · {width} units")


def dead_share_bars(shares: list[float], *, large: bool = False) -> go.Figure:
    """Share of units per hidden layer that never fire on the test set."""
    layers = [f"layer {i + 1}" for i in range(len(shares))]
    fig = go.Figure(go.Bar(x=layers, y=shares, marker_color=class_color(3), text=[f"{s:.0%}" for s in shares],
                           textposition="outside", hovertemplate="%{x}: %{y:.0%}<extra></extra>"))
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", title_text="dead units")
    return _style(fig, large=large, height=240, uirevision="dead")


def sweep_heatmaps(tables: dict[str, np.ndarray], depths: tuple[int, ...], widths: tuple[int, ...], *,
                   large: bool = False, counts: bool = False) -> go.Figure:
    """One depth × width heatmap of mean test accuracy per activation; blank cells are still training.
    counts: the tables hold counts (linear regions), coloured on a log scale and written in full."""
    names = list(tables)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, shared_yaxes=True,
                        horizontal_spacing=0.04)
    finite = [v for t in tables.values() for v in t[np.isfinite(t)]]
    top = np.log10(max(finite, default=10.0))
    for i, name in enumerate(names):
        z = tables[name]
        text = [["" if not np.isfinite(v) else f"{v:.0f}" if counts else f"{100 * v:.0f}" for v in row] for row in z]
        scale = ({"z": np.log10(np.maximum(z, 1)), "zmin": 0.0, "zmax": max(top, 1.0), "customdata": z,
                  "colorbar": {"title": "regions", "tickvals": list(range(int(max(top, 1.0)) + 1)),
                               "ticktext": [f"{10 ** k:,}" for k in range(int(max(top, 1.0)) + 1)]},
                  "hovertemplate": f"{name}<br>depth %{{y}} × width %{{x}}<br>linear regions %{{customdata:.0f}}"
                                   "<extra></extra>"} if counts else
                 {"z": z, "zmin": 0.4, "zmax": 1.0, "colorbar": {"title": "test acc"},
                  "hovertemplate": f"{name}<br>depth %{{y}} × width %{{x}}<br>test acc %{{z:.3f}}<extra></extra>"})
        fig.add_trace(go.Heatmap(x=[str(w) for w in widths], y=[str(d) for d in depths], colorscale="Viridis",
                                 text=text, texttemplate="%{text}", showscale=i == len(names) - 1, name=name, **scale),
                      row=1, col=i + 1)
        fig.update_xaxes(title_text="width", type="category", row=1, col=i + 1)
    fig.update_yaxes(title_text="depth (hidden layers)", type="category", row=1, col=1)
    _style(fig, large=large, height=340, uirevision="sweep")
    return fig.update_layout(margin={"t": 40})             # room for the subplot titles
