"""The Playground's watchable pace (AppTest): while a run trains ahead of the pace, the page draws the recorded
frame the pace has reached, with the curves and the status line at that epoch; a finished run the pace has not
caught up with is drawn as its time-lapse from that frame on, marked to play in the browser. Off, or once the
pace has caught up, the finished run shows as it is. The pace's length is set by the test, never waited for."""
from __future__ import annotations

import base64

import numpy as np

from nonlin_ui import pace
from tests.test_pages import charts, status, wait_for_end

HOUR = 3600.0          # a pace this slow stays behind the training while the test looks


def epochs_of(x) -> list[int]:
    """A curve's x as the figure's JSON has it (a plain list or a base64 typed array)."""
    if isinstance(x, dict):
        x = np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"]))
    return [int(v) for v in x]


def autoplay_scripts(at) -> list[str]:
    return [h.proto.body for h in at.get("html") if "__nonlinAutoplayed" in h.proto.body]


def _finished_run(at):
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    assert handle.wait(120) and handle.status == "done"
    return handle


def test_a_training_run_ahead_of_the_pace_shows_the_recorded_frame_the_pace_reached(app, monkeypatch):
    monkeypatch.setattr(pace, "SECONDS", HOUR)                       # the pace stays on its first frame
    at = app(query={"epochs": "5000"}, pace=True)
    assert at.toggle(key=pace.TOGGLE).value is True                # on by default
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    assert handle.wait_until(lambda h: h.snapshot is not None and h.snapshot.epoch >= 20, 60)
    at.run()
    text = status(at)
    assert text.startswith("Running — epoch 0 / 5000") and "(watchable pace)" in text, text
    spec = charts(at)
    assert spec["boundary"]["layout"]["meta"]["epoch"] == 0 and not spec["boundary"].get("frames")
    curve = next(t for t in spec["curves"]["data"] if t.get("name") == "test")
    assert epochs_of(curve["x"]) == []                               # the curves stop at the shown epoch
    monkeypatch.setattr(pace, "SECONDS", 0.0)                        # the pace catches up: the newest frame
    at.run()
    assert status(at).startswith("Running — epoch ") and "watchable" not in status(at)
    assert charts(at)["boundary"]["layout"]["meta"]["epoch"] >= 20
    at.button(key="btn_pg_stop").click().run()
    assert wait_for_end(at).startswith("Stopped")


def test_a_finished_run_behind_the_pace_is_replayed_in_the_browser_from_the_paced_frame(app, monkeypatch):
    monkeypatch.setattr(pace, "SECONDS", HOUR)
    at = app(query={"epochs": "300"}, pace=True)
    handle = _finished_run(at)
    at.run()
    assert status(at).startswith("Done") and "replayed below at a watchable pace" in status(at)
    boundary = charts(at)["boundary"]
    recorded = handle.snapshot.timelapse.epochs
    start = boundary["layout"]["sliders"][0]["active"]
    assert [f["name"] for f in boundary["frames"]] == [str(e) for e in recorded]     # the whole run, in the browser
    assert start == 0 and boundary["layout"]["meta"]["epoch"] == recorded[start] == 0
    assert boundary["layout"]["meta"]["autoplay"] == handle.key
    assert [handle.key in body for body in autoplay_scripts(at)] == [True]
    at.run()
    assert charts(at)["boundary"] == boundary                        # a redraw sends the same figure

    monkeypatch.setattr(pace, "SECONDS", 0.0)                        # the pace is over
    at.run()
    boundary = charts(at)["boundary"]
    assert boundary["layout"]["meta"]["epoch"] == 300 and "autoplay" not in boundary["layout"]["meta"]
    assert not autoplay_scripts(at) and "watchable" not in status(at)


def test_with_the_watchable_pace_off_a_finished_run_shows_at_once(app, monkeypatch):
    monkeypatch.setattr(pace, "SECONDS", HOUR)
    at = app(query={"epochs": "300"}, pace=True)
    at.toggle(key=pace.TOGGLE).set_value(False).run()
    _finished_run(at)
    at.run()
    assert status(at).startswith("Done") and "watchable" not in status(at)
    boundary = charts(at)["boundary"]
    assert boundary["layout"]["meta"]["epoch"] == 300 and "autoplay" not in boundary["layout"]["meta"]
    assert not autoplay_scripts(at)
