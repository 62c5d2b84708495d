"""Drawing a run: the Playground's single model and the Compare page's row of models."""
from __future__ import annotations

import numpy as np
import streamlit as st

from nonlin_core import inspection, playback, plots, stats
from nonlin_core.compare import CompareSpec
from nonlin_core.config import RunConfig
from nonlin_core.jobs import JobHandle
from nonlin_core.training import METRICS

from . import bridge, cursor, downloads, field_frames, flow_view, held, inside, live_patch, pace, resources, runs

CHART = {"displaylogo": False}
# projector mode: all of it in 1280×720 (the boundary's plot: the live chart and the time-lapse share its size, and the
# player's band under it, playback.player_band)
PROJECTOR_HEIGHTS = {"boundary": 245, "curves": 190}
DIM_OPACITY = 0.35
# below ~1150 px of window (1024×768 with the sidebar open) the boundary's 3/5 column left the plot a stamp beside
# its legend and colour bar: there the curves go under the boundary, both the main column's full width
NARROW_CSS = """<style>
@media (max-width: 1150px) {
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] .st-key-boundary) { flex-wrap: wrap; }
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] .st-key-boundary) > [data-testid="stColumn"]
    { flex: 1 1 100% !important; width: 100% !important; min-width: 100%; }
}
</style>"""
SHAPE_WORDS = {
    "line": "a straight line: this model cannot bend",
    "nearly": "almost straight",
    "curve": "bends around the data",
    "none": "one class everywhere: no boundary in view",
}


def _history(snap, members: range) -> dict[str, np.ndarray]:
    if snap is None:
        return {m: np.zeros((1, 0)) for m in METRICS}
    return {m: snap.history[m][members.start:members.stop] for m in METRICS}


def boundary(frame: inspection.BoundaryFrame, config: RunConfig, probs, *, epoch: int, key: str, large: bool,
             title: str = "", height: int = 460, legend: bool = True, dim: bool = False, patched: bool = False,
             run: str | None = None) -> None:
    """The data alone (probs None) or a live boundary; patched: redrawn in place (live_patch, one chart a page;
    the data alone too, on the same chart; run: the shown run's key)."""
    if patched:
        live_patch.draw(frame, config, probs, epoch=epoch, key=key, large=large, title=title, height=height,
                        legend=legend, dim=dim, chart_config=CHART, run=run)
        return
    if probs is None:                          # the data alone, until a first frame
        fig = plots.decision_boundary(frame.xs, frame.ys, None, X_train=frame.X_train, y_train=frame.y_train,
                                      X_test=frame.X_test, y_test=frame.y_test, class_names=frame.class_names,
                                      axis_titles=frame.axis_titles, equal_aspect=frame.n_features == 2 and
                                      config.dataset != "csv", epoch=epoch, large=large, title=title, height=height,
                                      uirevision=f"boundary-{config.dataset}-{frame.pair}", show_legend=legend)
    else:
        fig = playback.live_boundary(frame, probs, config=config, epoch=epoch, large=large, title=title,
                                     height=height, legend=legend, dim=dim)
    st.plotly_chart(fig, key=key, config=CHART)


def _probs(snap, k: int):
    return snap.grid[k] if snap is not None and snap.grid is not None else None


def _stand_in(h: JobHandle | None, previous: JobHandle | None, config: RunConfig):
    """The previous run's last boundary (K = 1 probabilities) while h, on the same data, has drawn nothing yet."""
    snap = h.snapshot if h is not None else None
    if not runs.trains(h) or (snap is not None and snap.grid is not None) or previous is None:
        return None
    old = previous.snapshot
    same_data = resources.data_config(previous.configs[0]).key == resources.data_config(config).key
    return old.grid[0] if same_data and old is not None and old.grid is not None else None


def single(handle: JobHandle | None, config: RunConfig, frame: inspection.BoundaryFrame, large: bool,
           slot: str | None = None) -> None:
    """Status, live boundary and curves; final metrics once done. slot: the page's runs (runs.controls'): until a
    new run's first frame, the previous run's boundary (same data) stays on screen, dimmed; a lab's Train click
    redraws the live part alone (runs.live)."""
    height = PROJECTOR_HEIGHTS["boundary"] if large else 460

    def draw(h: JobHandle | None) -> None:
        snap = h.snapshot if h is not None else None
        cfg = h.configs[0] if h is not None else config   # a pill click's fragment run: the new run's
        # the click's response: the slow panels as they were (held.drawn), while the run trains (ended, its own views)
        hold = runs.just_started(h) and runs.trains(h)
        previous = runs.previous(slot) if slot else None
        stand_in = _stand_in(h, previous, cfg)
        paced = pace.shown(h)
        history = _history(snap, range(1))
        if paced is not None:
            history = pace.history_until(history, paced.epoch)   # the curves grow with the replayed boundary
        left, right = st.columns([3, 2], gap="medium")
        with left:
            run = cfg.key if snap is not None else None
            if paced is not None:
                boundary(frame, cfg, paced.probs, epoch=paced.epoch, key="boundary", large=large,
                         height=height, title="Decision boundary", patched=True, run=run)
            elif snap is not None and snap.timelapse is not None and snap.timelapse.epochs and not runs.trains(h):
                replay = pace.replay_from(h)
                # the figure as JSON, built once (~0.5 MB with its frames), drawn onto the live chart
                figure = held.memo("timelapse", f"{h.key}|{id(snap)}|{snap.epoch}|{large}|{replay}|{h.finished}", lambda: (
                    playback.boundary_timelapse(frame, playback.with_latest(snap.timelapse, snap.grid, snap.epoch),
                                                config=cfg, large=large, index=replay, title="Decision boundary",
                                                history=snap.history, autoplay=h.key if replay is not None else None,
                                                height=height, run=cfg.key if h.finished else None)  # paused: not yet
                    .to_json()))
                live_patch.draw_timelapse(figure, frame, cfg, key="boundary", large=large, height=height,
                                          legend=True, chart_config=CHART, run=run)
                if replay is not None:
                    pace.autoplay(h)
            elif stand_in is not None:
                boundary(frame, cfg, stand_in, epoch=0, key="boundary", large=large, dim=True, height=height,
                         title="Decision boundary (the previous run, until this one's first frame)", patched=True,
                         run=previous.configs[0].key)
            else:
                boundary(frame, cfg, _probs(snap, 0), epoch=snap.epoch if snap else 0, key="boundary",
                         large=large, height=height, title="Decision boundary" if snap is not None else
                         "Data (train solid, test outlined)", patched=True, run=run)
            if frame.note:
                st.caption(frame.note)
        with right:
            curves = plots.curves([("", history)], epochs=cfg.epochs, large=large, uirevision=f"curves-{cfg.key}",
                                  height=PROJECTOR_HEIGHTS["curves"] if large else 250)
            # one chart for the page's life, patched (Plotly.react): a Train click, a run's end or a stored run's
            # click brings a new figure to the same chart, not a new chart (a mount and Plotly.newPlot)
            live_patch.draw_figure(curves, key="curves", view=str(large), chart_config=CHART)
            flow_view.panel(snap, cfg, large, hold)
        inside.panel(snap, cfg, frame, large, hold)

    runs.live(handle, draw, slot)
    cursor.install()
    field_frames.install()
    live_patch.install()
    bridge.install()
    st.html(NARROW_CSS)
    snap = handle.snapshot if handle is not None and handle.finished else None
    final = snap.final[0] if snap is not None and snap.final else None
    if final:
        st.subheader("Result")
        row = st.container(horizontal=True, gap="medium")     # metrics wrap to a new line rather than clip
        row.metric("Test accuracy", f"{final['test_acc']:.1%}", width="content")
        row.metric("Train accuracy", f"{final['train_acc']:.1%}", width="content")
        row.metric("F1 (test, macro)", f"{final['f1']:.3f}", width="content")
        row.metric("Test loss", f"{final['test_loss']:.3g}", width="content")
        left, _ = st.columns([2, 3])
        with left:
            st.plotly_chart(plots.confusion_matrix(final["confusion"], frame.class_names, large=large),
                            key="confusion", config=CHART)
        st.caption("Export: a PyTorch script that reproduces this run, its metrics, the trained model, the figures.")
        downloads.exports(handle, {config.key: 0}, lambda: [
            plots.curves([("", _history(snap, range(1)))], epochs=config.epochs),
            plots.confusion_matrix(final["confusion"], frame.class_names)], "pg")


def shape_caption(label: str, shape: inspection.BoundaryShape | None, test_acc: float | None) -> str:
    """'**relu** — bends around the data · test accuracy 99%' from the run's own boundary."""
    words = SHAPE_WORDS[shape.kind] if shape is not None else "not trained yet"
    acc = f" · test accuracy {test_acc:.0%}" if test_acc is not None else ""
    return f"**{label}** — {words}{acc}"


def compare(handle: JobHandle | None, spec: CompareSpec, frame: inspection.BoundaryFrame, large: bool) -> None:
    """One boundary per model in a row (its first seed), overlaid curves (centre and band over seeds), a table."""
    base, labels = spec.base, spec.labels

    def draw(h: JobHandle | None) -> None:
        snap = h.snapshot if h is not None else None
        played = h is not None and not runs.trains(h) and compare_timelapse(snap, spec, frame, large)
        for m, (label, col) in enumerate(zip(labels, st.columns(len(labels), gap="small"))):
            members = spec.members(m)
            probs = _probs(snap, members[0])
            shape = inspection.boundary_shape(probs, frame.xs, frame.ys) if probs is not None else None
            finals = _finals(snap, members)
            with col:
                if not played:
                    boundary(frame, base, probs, epoch=snap.epoch if snap else 0, key=f"boundary_{m}",
                             large=large, title=label, height=330, legend=False)
                st.markdown(shape_caption(label, shape, float(np.mean([f["test_acc"] for f in finals])) if finals
                                          else None))
        if frame.note:
            st.caption(frame.note)
        if spec.seeds > 1:
            st.caption("Curves over seeds: loss, the geometric mean with a band ×/÷ one geometric standard "
                       "deviation (log axis); accuracy, the mean ± one standard deviation.")
        series = [(label, _history(snap, spec.members(m))) for m, label in enumerate(labels)]
        st.plotly_chart(plots.curves(series, epochs=base.epochs, cols=2, large=large, uirevision="cmp_curves",
                                     height=320), key="cmp_curves", config=CHART)

    runs.live(handle, draw)
    cursor.install()
    field_frames.install()
    snap = handle.snapshot if handle is not None and handle.finished else None
    if snap is None or not snap.final:
        return
    if not any(snap.final):
        return                       # no model finished: the status line says why, in red
    if spec.seeds > 1:
        for line in paired_lines(snap, spec):
            st.markdown(f"**{line}**")
    st.dataframe(final_table(handle, spec, frame), hide_index=True, column_config={
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "train accuracy": st.column_config.NumberColumn(format="percent"),
        "F1": st.column_config.NumberColumn(format="%.3f"), "test loss": st.column_config.NumberColumn(format="%.4g")})
    series = [(label, _history(snap, spec.members(m))) for m, label in enumerate(spec.labels)]
    downloads.exports(handle, {f"{label} · seed {handle.configs[spec.members(m)[0]].seed}": spec.members(m)[0]
                               for m, label in enumerate(spec.labels)},
                      lambda: [plots.curves(series, epochs=spec.base.epochs, cols=2)], "cmp")


def compare_timelapse(snap, spec: CompareSpec, frame: inspection.BoundaryFrame, large: bool) -> bool:
    """Every model's boundary (its first seed) in one figure whose panels play in step: one epoch slider, one
    Play button, in the browser; the slider's label is the epoch alone (one model's metrics there would read as
    all models'). False (nothing drawn) when the run has no recorded time-lapse."""
    if snap is None or snap.timelapse is None or not snap.timelapse.epochs:
        return False
    members = [spec.members(m)[0] for m in range(len(spec.labels))]

    def build():
        fig = playback.boundary_timelapse_members(frame, snap.timelapse, members, spec.labels, config=spec.base,
                                                  large=large, height=360, legend=False)
        return fig.update_layout(margin={"t": 64 if large else 52})   # panel titles above the plots, under the tools

    fig = held.memo("cmp_timelapse", f"{id(snap)}|{snap.epoch}|{members}|{spec.labels}|{large}", build)
    st.plotly_chart(fig, key="cmp_timelapse", config=CHART)
    return True


def _finals(snap, members: range) -> list[dict]:
    return [snap.final[k] for k in members if snap.final[k]] if snap is not None and snap.final else []


def final_table(handle: JobHandle, spec: CompareSpec, frame: inspection.BoundaryFrame) -> list[dict]:
    """One row per model: its boundary's shape and final metrics (mean over seeds), member statuses."""
    snap, rows = handle.snapshot, []
    for m, label in enumerate(spec.labels):
        members = spec.members(m)
        finals = _finals(snap, members)
        shape = inspection.boundary_shape(snap.grid[members[0]], frame.xs, frame.ys) if snap.grid is not None else None
        means = {name: float(np.mean([f[name] for f in finals])) if finals else None
                 for name in ("test_acc", "train_acc", "f1", "test_loss")}
        acc = stats.summary([f["test_acc"] for f in finals])
        rows.append({"model": label, "boundary": shape.kind if shape else "", "test accuracy": means["test_acc"],
                     "± std": f"{100 * acc.std:.1f} pts" if acc.n > 1 else "", "seeds": acc.n,
                     "train accuracy": means["train_acc"], "F1": means["f1"], "test loss": means["test_loss"],
                     "status": ", ".join(sorted({handle.member_status(k) for k in members}))})
    return rows


def paired_lines(snap, spec: CompareSpec) -> list[str]:
    """For each pair of models: their test-accuracy difference paired by seed, with a 95% interval."""
    acc = [[(snap.final[k] or {}).get("test_acc") for k in spec.members(m)] for m in range(len(spec.labels))]
    labels = spec.labels
    return [stats.describe(labels[i], labels[j], stats.paired_difference(acc[i], acc[j]))
            for i in range(len(labels)) for j in range(i + 1, len(labels))]
