"""Lessons: one point each. Read, predict, run, compare the result with your prediction."""
import streamlit as st

from nonlin_ui import lesson_view, resources, runs

st.title("Lessons")
lesson = lesson_view.pick()
large = resources.large_fonts()
st.markdown(lesson.text)
if lesson.article:
    st.caption(f"Reproduces, number for number: {lesson.article}.")
prediction = st.radio(f"**Predict first:** {lesson.question}", lesson.options, index=None,
                      key=f"ls_pred_{lesson.name}", horizontal=True)
sweep = lesson_view.current(lesson)
if st.button("Run the lesson", key="btn_ls_run", type="primary", disabled=sweep is not None and not sweep.finished):
    sweep = lesson_view.start(lesson) or sweep
training = sweep is not None and not sweep.finished


def live() -> None:
    lesson_view.results(lesson, sweep, prediction, large)
    if training and sweep.finished:
        st.rerun()


runs.timed_fragment(live, 0.5 if training else None)
