"""The Challenge page (AppTest): three sessions train and submit; all see the same ranking; a name with markup
is a table cell, shown as typed; only the teacher key (NONLIN_TEACHER_KEY) clears the board."""
from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

MARKUP = "<b>x</b><script>"


def train(at: AppTest, depth: int, epochs: int = 80) -> None:
    at.slider(key="ch_depth").set_value(depth)
    at.number_input(key="ch_epochs").set_value(epochs)
    at.segmented_control(key="ch_optimizer").set_value("adam")
    at.select_slider(key="ch_lr").set_value(0.03).run()
    at.button(key="btn_ch_train").click().run()
    deadline = time.monotonic() + 180
    while at.button(key="btn_ch_submit").disabled:            # enabled once this session's run is done and stored
        assert time.monotonic() < deadline, "training did not end"
        live = [h for h in at.session_state["handles"].values() if not h.finished]
        if live:
            live[0].wait(0.25)
        at.run()
        assert not at.exception, at.exception


def submit(at: AppTest, name: str) -> None:
    at.text_input(key="ch_student").input(name)
    at.button(key="btn_ch_submit").click().run()
    assert not at.exception and any(s.value.startswith("Submitted") for s in at.success), [e.value for e in at.error]


def board(at: AppTest) -> list[tuple]:
    at.run()
    frame = at.dataframe[0].value
    return list(zip(frame["rank"], frame["name"], frame["test accuracy"], frame["parameters"]))


def test_three_sessions_submit_and_all_see_the_same_ranking_with_names_as_text(app, monkeypatch):
    monkeypatch.delenv("NONLIN_TEACHER_KEY", raising=False)
    sessions = [app("challenge") for _ in range(3)]
    assert sessions[0].title[0].value == "Challenge" and any("No submissions yet" in i.value for i in sessions[0].info)
    for at, depth, name in zip(sessions, (0, 1, 2), ("ann", MARKUP, "cy")):
        train(at, depth)
        submit(at, name)
    boards = [board(at) for at in sessions]
    assert boards[0] == boards[1] == boards[2] and len(boards[0]) == 3
    ranked = boards[0]
    assert [r[0] for r in ranked] == [1, 2, 3]
    assert sorted(ranked, key=lambda r: (-r[2], r[3])) == ranked
    assert ranked[-1][1] == "ann" and ranked[-1][2] < 0.8                 # the linear model cannot beat 80%
    assert MARKUP in [r[1] for r in ranked]                                 # kept as typed, a text cell
    for at in sessions:
        assert not any(MARKUP in m.value for m in at.markdown)
        assert "btn_ch_clear" not in {b.key for b in at.button}             # no teacher key: no teacher controls


def test_a_wrong_teacher_key_is_refused_and_the_right_one_clears(app, monkeypatch):
    monkeypatch.setenv("NONLIN_TEACHER_KEY", "t3acher")
    student = app("challenge")
    train(student, 1, epochs=40)
    submit(student, "dee")
    teacher = app("challenge")
    assert len(board(teacher)) == 1
    teacher.text_input(key="ch_key").input("guess")
    teacher.button(key="btn_ch_clear").click().run()
    assert any("wrong teacher key" in e.value for e in teacher.error) and len(board(teacher)) == 1
    teacher.text_input(key="ch_key").input("t3acher")
    teacher.button(key="btn_ch_close").click().run()
    student.button(key="btn_ch_submit").click().run()
    assert any("closed" in e.value for e in student.error)
    teacher.button(key="btn_ch_clear").click().run()
    assert any("Cleared 1" in s.value for s in teacher.success)
    student.run()
    assert not student.dataframe and any("No submissions yet" in i.value for i in student.info)
