"""AppTest for the Sweep and Runs pages: a sweep fills its heatmaps; the Runs page lists, re-runs an
interrupted run with one click and exports a model."""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from nonlin_core.config import RunConfig
from nonlin_core.jobs import JobHandle, SweepHandle, batch_handle_key
from nonlin_core.store import RunRecord, SQLiteStore
from nonlin_core.sweep import SweepSpec, plan
from nonlin_ui import resources, run_list

ROOT = Path(__file__).resolve().parents[1]



def _array(value) -> np.ndarray:
    """Plotly 7 writes numpy arrays as {'dtype', 'bdata' (base64), 'shape'}."""
    if isinstance(value, dict) and "bdata" in value:
        shape = [int(n) for n in str(value["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.array(value, dtype=float)


def heatmap_cells(at: AppTest) -> list[np.ndarray]:
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "sweep_heatmap" in c.proto.id)
    return [_array(t["z"]) for t in spec["data"] if t["type"] == "heatmap"]


def test_sweep_fills_its_heatmaps_with_accuracies(app):
    at = app("sweep")
    at.sidebar.pills(key="sw_acts").set_value(["none", "relu"])
    at.sidebar.pills(key="sw_depths").set_value([0, 2])
    at.sidebar.pills(key="sw_widths").set_value([8])
    at.sidebar.number_input(key="sw_seeds").set_value(2)
    at.sidebar.number_input(key="sw_epochs").set_value(200)
    at.run()
    assert all(np.isnan(z).all() for z in heatmap_cells(at))                    # nothing trained yet
    at.button(key="btn_sw_run").click().run()
    progress = [p.proto.text for p in at.get("progress")]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.value.startswith("Done") for s in at.success):
        at.session_state["sweep_handle"].wait(0.5)
        at.run()
        assert not at.exception, at.exception
        progress += [p.proto.text for p in at.get("progress")]
    runs = 2 * 2 + 2 * 2                                   # depth 0 (shared by widths) and depth 2, 2 seeds each
    assert progress and all(f"of {runs} runs done" in t for t in progress), progress
    assert any(s.value.startswith(f"Done — {runs} runs;") for s in at.success)
    tables = heatmap_cells(at)
    assert len(tables) == 2 and all(np.isfinite(z).all() for z in tables)
    none, relu = tables
    assert none[0, 0] == relu[0, 0]                        # depth 0: the same linear model
    assert relu[1, 0] > none[1, 0]                         # 2 ReLU layers bend around the circles


def test_runs_page_reruns_an_interrupted_run_and_exports_a_finished_one(app, store_path):
    store = SQLiteStore(store_path)
    crashed = RunConfig(epochs=40, n_samples=200, seed=7)
    store.begin(crashed)
    store._db.execute("UPDATE runs SET owner='elsewhere:1:dead', updated_at=0 WHERE key=?", (crashed.key,))
    assert store.recover() == 1
    store.close()
    at = app("runs")
    assert any("interrupted" in str(v) for v in at.dataframe[0].value["status"])
    at.button(key="btn_rerun_all").click().run()
    assert not at.exception and any("Started 1 run" in s.value for s in at.success)
    handle = next(iter(at.session_state["handles"].values()))
    assert handle.wait(60) and handle.status == "done"
    at.run()
    frame = at.dataframe[0].value
    assert list(frame["status"]) == ["done"] and frame["test acc"][0] == handle.snapshot.final[0]["test_acc"]


def test_a_sweep_whose_runs_all_failed_says_so_in_red_once_without_empty_heatmaps(app):
    at = app("sweep")
    at.sidebar.selectbox(key="sw_dataset").set_value("heart_failure").run()
    assert "heart failure" in at.sidebar.selectbox(key="sw_dataset").options         # the name every page uses
    at.sidebar.pills(key="sw_acts").set_value(["relu"])
    at.sidebar.pills(key="sw_depths").set_value([0, 1])
    at.sidebar.pills(key="sw_widths").set_value([4]).run()
    spec = SweepSpec(RunConfig.within_caps(dataset="heart_failure", standardize=True, optimizer="adam", lr=0.03,
                                           batch_size=0, epochs=300, hidden_layers=()), ("relu",), (0, 1), (4,), 4)
    reason = "heart_failure: the data file is missing on this server"
    groups = []
    for configs in plan(spec):                              # the state JobManager leaves when every group failed
        handle = JobHandle(configs, batch_handle_key(configs), status="failed", message=reason)
        handle._done.set()
        groups.append(handle)
    at.session_state["sweep_handle"] = SweepHandle(groups, "s-failed")
    at.run()
    assert not at.exception and not at.success
    errors = [e.value for e in at.error]
    assert errors == [f"Failed — none of the 8 runs finished: {reason}"], errors
    assert not any("sweep_heatmap" in c.proto.id for c in at.get("plotly_chart"))


def _finished(store: SQLiteStore, config: RunConfig, status: str = "done") -> None:
    store.begin(config)
    store.finish(RunRecord(config.key, config, status, "", {}, {"test_acc": 0.5, "f1": 0.5}, "cpu", 0.1))


def test_runs_page_pages_through_many_runs(app, store_path):
    store = SQLiteStore(store_path)
    for seed in range(run_list.PAGE_SIZE + 5):
        _finished(store, RunConfig(epochs=10, seed=seed))
    store.close()
    at = app("runs")
    assert len(at.dataframe[0].value) == run_list.PAGE_SIZE
    at.number_input(key="runs_page").set_value(2).run()
    assert not at.exception and len(at.dataframe[0].value) == 5
    assert any(f"of {run_list.PAGE_SIZE + 5}" in c.value for c in at.caption)
    at.segmented_control(key="runs_status").set_value("failed").run()        # a filter with fewer runs: page 1
    assert not at.exception and any("No failed runs" in i.value for i in at.info)
    at.segmented_control(key="runs_status").set_value("done").run()
    assert len(at.dataframe[0].value) == run_list.PAGE_SIZE


def test_runs_page_says_once_when_the_store_file_was_moved_aside(app, store_path):
    at = app("runs")
    assert not at.warning
    resources.manager().store.moved_aside = store_path.with_name("runs.sqlite3.corrupt-1")
    at.run()
    assert [w.value for w in at.warning if "runs.sqlite3.corrupt-1" in w.value] != []
    assert not any(str(store_path.parent) in w.value for w in at.warning)      # the file's name, not the path


def test_sweep_shows_linear_regions_as_a_metric(app):
    at = app("sweep")
    at.sidebar.pills(key="sw_acts").set_value(["none", "relu", "tanh"])
    at.sidebar.pills(key="sw_depths").set_value([1])
    at.sidebar.pills(key="sw_widths").set_value([2, 16])
    at.sidebar.number_input(key="sw_seeds").set_value(1)
    at.sidebar.number_input(key="sw_epochs").set_value(50)
    at.run()
    at.button(key="btn_sw_run").click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.value.startswith("Done") for s in at.success):
        at.session_state["sweep_handle"].wait(0.5)
        at.run()
        assert not at.exception, at.exception
    at.segmented_control(key="sw_metric").set_value("linear regions").run()
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "sweep_heatmap" in c.proto.id)
    panels = {t["name"]: _array(t["customdata"]) for t in spec["data"] if t["type"] == "heatmap"}
    assert set(panels) == {"none", "relu"}                     # tanh has no linear regions: left out
    assert (panels["none"] == 1).all() and panels["relu"][0, 1] > panels["relu"][0, 0]
