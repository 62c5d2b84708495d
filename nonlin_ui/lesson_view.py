"""Lessons page helpers: the lesson from the URL, its run (a sweep of batched groups), results beside the
expectation and the student's prediction."""
from __future__ import annotations

import numpy as np
import streamlit as st

from nonlin_core import plots
from nonlin_core.jobs import SweepHandle
from nonlin_core.lessons import LESSONS, Lesson, preset_members, preset_results, verdict
from nonlin_core.training import METRICS

from . import controls, layers, resources, runs
from .sweep_view import finals, outcome
from .views import CHART


def pick() -> Lesson:
    """The lesson chosen in the selectbox, first set from ?lesson=NAME; kept in the URL."""
    if "ls_lesson" not in st.session_state:
        asked = st.query_params.get("lesson", "")
        if asked and asked not in LESSONS:
            st.session_state.ls_link_error = f"lesson: {asked!r} is not a lesson; showing the first one"
        st.session_state.ls_lesson = asked if asked in LESSONS else next(iter(LESSONS))
    if st.session_state.get("ls_link_error"):
        st.warning(st.session_state.ls_link_error)
    names = list(LESSONS)
    st.selectbox("Lesson", names, key="ls_lesson",
                 format_func=lambda n: f"{names.index(n) + 1}. {LESSONS[n].title}")
    name = st.session_state.ls_lesson
    if st.query_params.get("lesson") != name:
        st.query_params["lesson"] = name
    return LESSONS[name]


def current(lesson: Lesson) -> SweepHandle | None:
    """This session's run of the lesson, or one served from the store when every run is stored."""
    sweep = st.session_state.get(f"ls_sweep_{lesson.name}")
    if sweep is not None:
        return sweep
    store = resources.manager().store
    if all((r := store.get(c.key)) is not None and r.status in ("done", "diverged") for c in lesson.configs()):
        return start(lesson)
    return None


def start(lesson: Lesson) -> SweepHandle | None:
    sweep = runs.submit_or_report(lambda: resources.manager().submit_sweep(lesson.groups(), owner=st.session_state.owner))
    if sweep is not None:
        st.session_state[f"ls_sweep_{lesson.name}"] = sweep
    return sweep


def results(lesson: Lesson, sweep: SweepHandle | None, prediction: str | None, large: bool) -> None:
    """Progress while training; then the table, the verdict beside the prediction and the expectation, curves."""
    if sweep is None:
        st.info("Answer the question, then press **Run the lesson**.")
        return
    total, done, reason = outcome(sweep)
    if not sweep.finished:
        st.progress(sweep.progress, text=f"Training — {sweep.progress:.0%} of {total} runs")
        return
    if done == 0:
        st.error(f"Failed — none of the {total} runs finished: {reason or 'no results'}")
        return
    res = preset_results(lesson, finals(sweep))
    answer = verdict(lesson, res)
    seeds = f" (mean over {lesson.seeds} seeds)" if lesson.seeds > 1 else ""
    st.dataframe([row(name, r, lesson.seeds) for name, r in res.items()], hide_index=True, key="ls_table")
    left, right = st.columns(2)                  # the table above takes the full width: no column is cut
    with left:
        if answer is None:
            st.warning(f"Only {done} of {total} runs finished ({reason}): no verdict.")
        elif prediction is None:
            st.info(f"**The runs say:** {answer}{seeds}. You did not predict.")
        elif prediction == answer:
            st.success(f"**You predicted:** {prediction} — **the runs say:** {answer}{seeds}. Right!")
        else:
            st.warning(f"**You predicted:** {prediction} — **the runs say:** {answer}{seeds}.")
    with right:
        st.markdown(f"**Expected:** {lesson.expectation}")
    st.markdown(f"**What to notice:** {lesson.notice}")
    links = st.container(horizontal=True, gap="small")
    for name, config in lesson.presets.items():
        if links.button(f"Open {name} on the Playground", key=f"ls_open_{name}", icon=":material/open_in_new:"):
            controls.open_in_playground(config)
    st.plotly_chart(plots.curves(series(lesson, sweep), epochs=lesson.configs()[0].epochs, large=large, cols=2,
                                 uirevision=f"lesson-{lesson.name}"), key="ls_curves", config=CHART)
    if lesson.report:
        report(lesson, res, large)


def row(name: str, r: dict, seeds: int) -> dict:
    first = r["first"] or {}
    out = {"preset": name, "test acc": _pct(first.get("test_acc")), "test loss": _num(first.get("test_loss")),
           "train acc": _pct(first.get("train_acc")), "F1": _num(first.get("f1"))}
    if seeds > 1:
        out[f"{r['runs']} seeds"] = _pct(r["mean"])           # mean test accuracy
    return out


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.2f}%"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"


def series(lesson: Lesson, sweep: SweepHandle) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Per preset: its seeds' histories (K, T) from its group's final snapshot."""
    out = []
    for name, (g, members) in preset_members(lesson, [h.configs for h in sweep.groups]).items():
        snap = sweep.groups[g].snapshot
        if snap is not None:
            out.append((name, {m: snap.history[m][members] for m in METRICS}))
    return out


def report(lesson: Lesson, res: dict, large: bool) -> None:
    """The accuracy/F1 report with confusion matrices, then the per-layer view of the last preset's first run."""
    st.subheader("Accuracy and F1 report (each preset's own run)")
    cols = st.columns(len(res))
    for col, (name, r) in zip(cols, res.items()):
        with col:
            first = r["first"]
            if first:
                st.markdown(f"**{name}** — accuracy {first['test_acc']:.1%}, macro-F1 {first['f1']:.3f}")
                st.plotly_chart(plots.confusion_matrix(first["confusion"], ["0", "1"], large=large, height=240),
                                key=f"ls_confusion_{name}", config=CHART)
    name, config = list(lesson.presets.items())[-1]
    st.subheader(f"Inside {name}: what each layer does to the test points")
    layers.show_layers(config.key, 48, large)
