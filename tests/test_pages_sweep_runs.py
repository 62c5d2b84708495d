"""AppTest for the Sweep and Runs pages: a sweep fills its heatmaps; the Runs page lists, re-runs an
interrupted run with one click and exports a model."""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from nonlin_core.config import RunConfig
from nonlin_core.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app(store_path):
    def make(page: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        return at

    yield make
    st.cache_resource.clear()
    st.cache_data.clear()


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
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(s.value.startswith("Done") for s in at.success):
        at.session_state["sweep_handle"].wait(0.5)
        at.run()
        assert not at.exception, at.exception
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
