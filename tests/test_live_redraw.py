"""What a live redraw of the Playground costs: the slow views (network diagram,
gradient flow) held between redraws so a redraw sends the boundary and the curves alone, and their size."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from nonlin_core import inspection, playback, plots
from nonlin_core.config import RunConfig
from nonlin_core.training import METRICS, Trainer
from nonlin_ui import held
from tests.test_pages import charts

LIVE_BUDGET = 60_000          # issue 9: each live update at most 60 KB over the socket


def test_a_live_redraw_of_a_long_run_fits_the_budget_with_the_slow_views_held():
    config = RunConfig(epochs=2000, batch_size=256, seed=4)
    snaps = Trainer(config).steps(grid=True, grid_resolution=60, snapshot_every=1900, snapshot_seconds=1e9)
    snap = next(s for s in snaps if s.epoch >= 1900)
    frame = inspection.boundary_frame(Trainer(config).data, resolution=60)
    boundary = playback.live_boundary(frame, snap.grid[0], config=config, epoch=snap.epoch, large=False,
                                      title="Decision boundary", height=460, legend=True)
    history = {m: snap.history[m][0:1] for m in METRICS}
    curves = plots.curves([("", history)], epochs=config.epochs, uirevision=f"curves-{config.key}")
    assert len(curves.data[0].x) <= plots.MAX_CURVE_POINTS + 1 and curves.data[0].x[-1] == snap.epoch
    size = len(boundary.to_json()) + len(curves.to_json())
    assert size <= LIVE_BUDGET, f"{size} bytes"


@pytest.mark.parametrize("hold", [60.0, 0.0])
def test_the_network_and_gradient_flow_are_held_between_live_redraws(app, monkeypatch, hold):
    monkeypatch.setattr(held, "HOLD_SECONDS", hold)
    at = app(query=RunConfig(epochs=20000, batch_size=64, seed=5).to_query())
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    try:
        handle.wait_until(lambda h: h.snapshot is not None and h.snapshot.grad_norm is not None
                          and h.snapshot.epoch >= 2, 60)
        at.run()
        first = charts(at)
        epoch = handle.snapshot.epoch
        handle.wait_until(lambda h: h.snapshot is not None and h.snapshot.epoch > epoch + 2, 60)
        at.run()
        second = charts(at)
        assert not handle.finished, "the run ended: make it longer"
        assert first["boundary"] != second["boundary"]              # the boundary follows the run
        same = [first[k] == second[k] for k in ("network", "grad_flow")]
        assert same == ([True, True] if hold else [False, False])
    finally:
        handle.cancel()
        handle.wait(10)


def test_a_run_that_ends_before_the_clicks_response_shows_its_own_views(app):
    """Held slow panels are for a run that trains: one that has ended by the click's response (a few epochs) shows its
    own network diagram there, since an ended run's page has no next redraw to bring it."""
    at = app(query=RunConfig(epochs=5, seed=17).to_query())
    assert "untrained" in charts(at)["network"]["layout"]["title"]["text"]
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    assert handle.finished and handle.status == "done"
    assert "untrained" not in charts(at)["network"]["layout"]["title"]["text"]


def test_the_train_clicks_response_keeps_the_slow_panels_and_the_next_redraw_brings_the_new_runs(app):
    """The click's response (the live fragment's run, then the whole page's: nonlin_ui.runs.train_click) sends the
    network diagram and the gradient flow as they were (the browser draws the new run's boundary first); the next
    live redraw draws the new run's."""
    at = app(query=RunConfig(epochs=20000, batch_size=64, seed=7).to_query())
    before = charts(at)
    assert "untrained" in before["network"]["layout"]["title"]["text"] and "grad_flow" not in before
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    try:
        response = charts(at)
        assert [p.proto.text.split(" —")[0] for p in at.get("progress")] == ["Running"]
        assert response["boundary"]["layout"]["images"][0]["opacity"] == 1         # the run's first frame
        assert response["boundary"]["layout"]["meta"]["epoch"] >= 1
        assert response["network"] == before["network"] and "grad_flow" not in response
        assert at.button(key="btn_pg_stop").disabled is False                      # the whole page, for the run
        handle.wait_until(lambda h: h.snapshot is not None and h.snapshot.grad_norm is not None
                          and h.snapshot.epoch >= 2, 60)
        at.run()
        after = charts(at)
        assert not handle.finished, "the run ended: make it longer"
        assert "at epoch" in after["network"]["layout"]["title"]["text"] and "grad_flow" in after
    finally:
        handle.cancel()
        handle.wait(10)


def test_a_finished_runs_time_lapse_is_built_once_per_session(app, monkeypatch):
    from nonlin_ui import views
    built, original = [], views.playback.boundary_timelapse
    monkeypatch.setattr(views.playback, "boundary_timelapse", lambda *a, **k: built.append(1) or original(*a, **k))
    at = app(query=RunConfig(epochs=30, seed=6).to_query())
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    assert handle.wait(60)
    at.run()
    first = charts(at)["boundary"]
    at.run()
    at.run()
    assert len(built) == 1 and charts(at)["boundary"] == first and len(first["frames"]) > 10


def test_a_finished_runs_time_lapse_is_drawn_onto_the_live_chart(app):
    """The run's end, a Train click after it and a stored run's click keep the boundary's one chart (the same
    element: Streamlit sends its unchanged spec as a reference, the browser mounts nothing); the time-lapse, frames
    and all, is a whole-figure patch onto it, and the next run's live frames patch it again."""
    from tests.test_pages import live_patches
    at = app(query=RunConfig(epochs=40, seed=6).to_query())
    sent = lambda: [c.proto.spec for c in at.get("plotly_chart") if c.proto.id.endswith("-boundary")]  # noqa: E731
    own = lambda: next(p for p in live_patches(at) if p["token"].startswith("boundary|"))  # noqa: E731
    skeleton = sent()
    assert len(skeleton) == 1 and "frames" not in own() and own()["run"] is None          # the data alone
    at.button(key="btn_pg_train").click().run()
    relu = next(iter(at.session_state["handles"].values()))
    assert relu.wait(60)
    at.run()
    assert sent() == skeleton                                                 # the same element
    finished = own()
    assert finished["run"] == relu.configs[0].key and len(finished["figure"]["frames"]) > 10
    assert finished["figure"]["layout"]["height"] == json.loads(skeleton[0])["layout"]["height"]   # the same size
    assert charts(at)["boundary"]["frames"] == finished["figure"]["frames"]
    at.run()
    assert own()["seq"] == finished["seq"]          # unchanged: the same patch (the browser draws it once)
    at.session_state.pg_activation = "tanh"         # train on change
    at.run()
    tanh = next(h for h in at.session_state["handles"].values() if h is not relu)
    try:
        assert sent() == skeleton
        live = own()
        assert "figure" not in live and live["seq"] > finished["seq"]     # a live frame: tanh's, or relu's dimmed
        assert live["run"] == (relu.configs[0].key if live["dim"] else tanh.configs[0].key)
    finally:
        tanh.cancel()
        tanh.wait(10)


def test_live_pages_share_the_servers_redraws_when_many_runs_are_live():
    from nonlin_ui import runs
    assert runs.timer_seconds(runs.REDRAW_SECONDS, 1) == runs.REDRAW_SECONDS          # one student: 0.25 s
    thirty = runs.timer_seconds(runs.REDRAW_SECONDS, 30)                              # a class pressing Train
    assert thirty > runs.REDRAW_SECONDS and 30 / thirty <= runs.REDRAWS_PER_SECOND + 1e-9
    assert runs.timer_seconds(runs.QUEUED_SECONDS, 30) >= runs.QUEUED_SECONDS


def test_a_live_boundary_is_one_chart_patched_in_place_with_what_a_full_redraw_would_draw(app, monkeypatch):
    """Two redraws of a training run send the same boundary figure (Streamlit: the same element, no remount in the
    browser) and a patch each; the chart with the patch applied draws that frame as the whole live figure does."""
    from nonlin_ui import live_patch
    from tests.test_pages import live_patches
    drawn, original = [], live_patch.patch
    monkeypatch.setattr(live_patch, "patch", lambda frame, probs, **kw: drawn.append((frame, probs, kw)) or
                        original(frame, probs, **kw))
    at = app(query=RunConfig(epochs=20000, batch_size=64, seed=7).to_query())
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    sent = lambda key: [c.proto.spec for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]  # noqa: E731
    try:
        handle.wait_until(lambda h: h.snapshot is not None and h.snapshot.grid is not None and h.snapshot.epoch >= 2, 60)
        at.run()
        own = lambda: next(p for p in live_patches(at) if p["token"].startswith("boundary|"))  # noqa: E731
        skeleton, curves, first = sent("boundary"), sent("curves"), own()
        epoch = handle.snapshot.epoch
        handle.wait_until(lambda h: h.snapshot is not None and h.snapshot.epoch > epoch + 2, 60)
        at.run()
        assert not handle.finished, "the run ended: make it longer"
        assert sent("boundary") == skeleton and len(skeleton) == 1            # one element, sent unchanged
        assert sent("curves") == curves and len(curves) == 1                  # the curves too: a whole-figure patch
        second = own()
        assert second["seq"] > first["seq"] and second["epoch"] > first["epoch"] and second["token"] == first["token"]
        frame, probs, kw = drawn[-1]
        whole = playback.live_boundary(frame, probs, config=RunConfig(), epoch=kw["epoch"]).to_plotly_json()
        shown = charts(at)["boundary"]
        line = [next(t for t in f["data"] if t.get("name") == "boundary line") for f in (whole, shown)]
        x = [np.frombuffer(base64.b64decode(v["bdata"]), v["dtype"]) if isinstance(v, dict) else
             np.array(v, dtype=float) for v in (t["x"] for t in line)]           # plotly's typed array, or a list
        assert np.array_equal(np.isnan(x[0]), np.isnan(x[1])) and np.allclose(x[0], x[1], atol=1e-4, equal_nan=True)
        assert shown["layout"]["images"][-1]["source"] == whole["layout"]["images"][-1]["source"]
        assert shown["layout"]["meta"]["epoch"] == kw["epoch"] == second["epoch"]
        grown = charts(at)["curves"]                                    # the curves of this redraw's snapshot
        assert grown["layout"]["meta"]["epoch"] == second["epoch"] > json.loads(curves[0])["layout"]["meta"]["epoch"]
    finally:
        handle.cancel()
        handle.wait(10)
