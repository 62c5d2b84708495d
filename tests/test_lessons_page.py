"""AppTest for the Lessons page: the lesson is in the URL, a bad one is named; one click runs the lesson and
its table shows the same numbers as `train --preset` on the command line, beside the student's prediction."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nonlin_core.lessons import LESSONS, preset_results, verdict

ROOT = Path(__file__).resolve().parents[1]


def open_lesson(app, name: str):
    """The Lessons page opened by a link ?lesson=NAME (AppTest opens app.py first, then switches page)."""
    at = app()
    at.query_params.clear()
    at.query_params["lesson"] = name
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    return at


def run_to_end(at, name: str, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sweep = at.session_state[f"ls_sweep_{name}"]
        sweep.wait(0.5)
        at.run()
        assert not at.exception, at.exception
        if sweep.finished and len(at.dataframe):
            return sweep
    raise AssertionError("the lesson did not finish")


def table(at) -> dict[str, dict]:
    frame = at.dataframe[0].value
    return {r["preset"]: r for r in frame.to_dict("records")}


def cli(name: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "nonlin_core", "train", "--preset", name, "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["final"]


def test_lesson_from_the_url_and_a_bad_one_is_named(app):
    at = open_lesson(app, "spiral")
    assert at.selectbox(key="ls_lesson").value == "spiral"
    at.selectbox(key="ls_lesson").set_value("moons").run()
    assert at.query_params["lesson"] in ("moons", ["moons"])          # the URL follows the choice
    assert LESSONS["moons"].question in at.radio(key="ls_pred_moons").label
    bad = open_lesson(app, "nope")
    assert bad.selectbox(key="ls_lesson").value == next(iter(LESSONS))
    assert any("lesson: 'nope' is not a lesson" in w.value for w in bad.warning)
    assert not bad.button(key="btn_ls_run").disabled


def test_running_a_lesson_gives_the_clis_numbers_beside_the_prediction(app):
    at = open_lesson(app, "xor")
    lesson = LESSONS["xor"]
    at.radio(key="ls_pred_xor").set_value("Yes").run()
    at.button(key="btn_ls_run").click().run()
    sweep = run_to_end(at, "xor")
    rows = table(at)
    assert set(rows) == set(lesson.presets)
    for name in lesson.presets:
        final = cli(name)                                  # the same preset from the command line
        assert rows[name]["test acc"] == f"{100 * final['test_acc']:.2f}%"
        assert rows[name]["test loss"] == f"{final['test_loss']:.4f}"
    from nonlin_ui.sweep_view import finals
    answer = verdict(lesson, preset_results(lesson, finals(sweep)))
    shown = " ".join(m.value for m in [*at.success, *at.warning, *at.info])
    assert "You predicted:** Yes" in shown and f"the runs say:** {answer}" in shown
    curves = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "ls_curves" in c.proto.id)
    names = {t.get("name") for t in curves["data"]}
    assert {f"{p} · test" for p in lesson.presets} <= names          # a curve per preset, not an empty chart


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in LESSONS if n != "xor"])   # xor: the test above, prediction included
def test_every_lesson_from_the_page_gives_train_presets_numbers(app, name):
    """Each lesson's one click trains its presets (batched over seeds); each preset's own run equals
    `train --preset NAME` on the command line."""
    at = open_lesson(app, name)
    at.button(key="btn_ls_run").click().run()
    run_to_end(at, name, seconds=600)
    rows = table(at)
    assert set(rows) == set(LESSONS[name].presets)
    for preset_name in LESSONS[name].presets:
        final = cli(preset_name)
        assert rows[preset_name]["test acc"] == f"{100 * final['test_acc']:.2f}%", preset_name
        assert rows[preset_name]["test loss"] == f"{final['test_loss']:.4f}", preset_name
