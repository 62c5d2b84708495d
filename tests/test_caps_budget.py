"""Caps bound new requests, never stored runs; a job's estimated work is checked against NONLIN_MAX_WORK
before it is queued; NONLIN_MAX_JOB_SECONDS stops a running job, stored as "stopped"; a sweep whose data
cannot be had fails once, with the reason, and stores nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from nonlin_core import RunConfig, datasets
from nonlin_core.budget import check_request, job_work
from nonlin_core.errors import ConfigError, DataError, OverBudget
from nonlin_core.jobs import JobManager
from nonlin_core.limits import MAX_WORK_DEFAULT
from nonlin_core.store import SQLiteStore
from nonlin_core.sweep import SweepSpec, plan

ROOT = Path(__file__).resolve().parents[1]
QUICK = RunConfig(dataset="moons", n_samples=120, noise=0.2, epochs=25, hidden_layers=(6,), device="cpu")
LONG = RunConfig(dataset="moons", n_samples=5000, noise=0.2, epochs=5000, hidden_layers=(32, 32), device="cpu")
TIMEOUT = 60
LIMIT_VARS = ("NONLIN_MAX_EPOCHS", "NONLIN_MAX_DEPTH", "NONLIN_MAX_WORK", "NONLIN_MAX_JOB_SECONDS")


@pytest.fixture
def manager(store_path, monkeypatch):
    """A job manager on a fresh store, with the built-in caps and budgets; shut down after the test."""
    for var in LIMIT_VARS:
        monkeypatch.delenv(var, raising=False)
    store = SQLiteStore(store_path)
    made = JobManager(store, snapshot_seconds=0.05, grid_resolution=10)
    yield made
    made.shutdown()
    store.close()


def finished(handle):
    assert handle.wait(TIMEOUT), "the job did not finish"
    return handle


# --- caps: requests, not stored runs -------------------------------------------------------------
def test_a_stored_run_survives_a_lowered_cap(manager, monkeypatch):
    long_run = QUICK.replace(epochs=3000)
    trained = finished(manager.submit(long_run))
    assert trained.status == "done"
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "2000")
    record = manager.store.get(long_run.key)
    assert record.config == long_run and record.status == "done" and len(record.history["epoch"]) == 3000
    assert [(r.key, r.config) for r in manager.store.list_runs()] == [(long_run.key, long_run)]
    served = manager.submit(long_run)                # a stored run is not a new request: served as it is
    assert served.from_cache and served.status == "done" and served.snapshot.epoch == 3000
    with pytest.raises(ConfigError, match="epochs: 3000 is above the server cap 2000"):
        manager.submit(long_run.replace(seed=1))     # a new run of that length is refused
    with pytest.raises(ConfigError, match="epochs: 3000 is above the server cap 2000"):
        RunConfig.from_query(long_run.replace(seed=1).to_query())
    assert manager.active() == [] and manager.store.count_runs() == 1


def test_a_sweep_over_a_cap_is_refused_before_it_is_queued(manager, monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_DEPTH", "1")
    groups = plan(SweepSpec(QUICK, ("relu",), (1, 2), (4,), seeds=1))
    with pytest.raises(ConfigError, match="hidden_layers: depth 2 is above the server cap 1"):
        manager.submit_sweep(groups)
    assert manager.active() == [] and manager.store.count_runs() == 0



def test_runs_and_activations_pages_show_a_run_stored_above_todays_cap(manager, app, monkeypatch):
    long_run = QUICK.replace(epochs=3000)
    assert finished(manager.submit(long_run)).status == "done"
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "2000")
    runs = app("runs")
    assert len(runs.dataframe) == 1 and "done" in str(runs.dataframe[0].value["status"][0])
    activations = app("activations")
    assert activations.selectbox(key="act_run").value == long_run.key


# --- the work budget -----------------------------------------------------------------------------
def page_defaults() -> dict[str, list[list[RunConfig]]]:
    """The jobs behind every preset, page default and lesson (as the pages build them)."""
    from nonlin_ui.controls import PRESETS, preset

    jobs = {name: [[preset(name)]] for name in PRESETS if name != "csv"}
    base = preset("circles").replace(hidden_layers=(10, 10), epochs=300)             # Compare: 3 models x 8 seeds
    jobs["compare"] = [[base.replace(activation=a, seed=base.seed + k) for a in ("none", "relu", "tanh")
                        for k in range(8)]]
    sweep_base = RunConfig(optimizer="adam", lr=0.03, epochs=300, hidden_layers=())  # Sweep page defaults
    jobs["sweep"] = plan(SweepSpec(sweep_base, ("none", "relu", "tanh"), (0, 1, 2, 3), (2, 4, 8, 16), 4))
    jobs["moons tutorial"] = [[RunConfig(dataset="moons", n_samples=10_000, noise=0.2, epochs=50, batch_size=32,
                                         hidden_layers=(10,), loss="ce")]]
    jobs["heart failure lesson"] = [[RunConfig(dataset="heart_failure", standardize=True, hidden_layers=(5,),
                                               epochs=1000, batch_size=32)]]
    jobs["circles lesson"] = [[RunConfig(hidden_layers=(10, 10), epochs=1000, batch_size=32)]]
    return jobs


def test_every_preset_page_default_and_lesson_fits_the_default_budget(heart_dir, monkeypatch):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(heart_dir))
    monkeypatch.delenv("NONLIN_MAX_WORK", raising=False)
    for name, groups in page_defaults().items():
        assert job_work(groups) < MAX_WORK_DEFAULT / 10, name        # a tenth of it: room to turn knobs
        check_request(groups, sweep=name == "sweep")


def test_the_caps_maxima_are_over_the_default_budget(monkeypatch):
    monkeypatch.delenv("NONLIN_MAX_WORK", raising=False)
    biggest = RunConfig(n_samples=20_000, epochs=5_000, hidden_layers=(256,) * 8)
    with pytest.raises(OverBudget, match=r"this run is about 4\.6e13 units of work, above the server's 1e12 "
                                         r"\(NONLIN_MAX_WORK\): lower epochs, samples or the width/depth"):
        check_request([[biggest.check_caps()]])


def test_an_over_budget_job_is_refused_with_what_to_lower(manager, monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_WORK", "2e9")
    big = QUICK.replace(n_samples=1000, epochs=1000, hidden_layers=(64, 64))
    work = job_work([[big]])
    assert 2e9 < work < 1e10
    with pytest.raises(OverBudget) as err:
        manager.submit(big)
    assert str(err.value) == (f"this run is about {work / 1e9:.2g}e9 units of work, above the server's 2e9 "
                              "(NONLIN_MAX_WORK): lower epochs, samples or the width/depth of the network")
    members = [big.replace(n_samples=100, epochs=100, seed=s, batch_size=8) for s in range(40)]
    with pytest.raises(OverBudget, match="these 40 runs are about .* raise the batch size, or compare fewer seeds"):
        manager.submit_batch(members)
    with pytest.raises(OverBudget, match="this sweep is about .* choose fewer seeds, depths or widths"):
        manager.submit_sweep(plan(SweepSpec(big, ("relu", "tanh"), (1, 2), (64,), seeds=2)))
    assert manager.active() == [] and manager.store.count_runs() == 0
    monkeypatch.setenv("NONLIN_MAX_WORK", "0")                       # 0: no budget
    assert finished(manager.submit(big.replace(epochs=50))).status == "done"


def test_a_bad_budget_variable_is_named(manager, monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_WORK", "lots")
    with pytest.raises(ConfigError, match="NONLIN_MAX_WORK"):
        manager.submit(QUICK)
    monkeypatch.setenv("NONLIN_MAX_WORK", "1e12")
    monkeypatch.setenv("NONLIN_MAX_JOB_SECONDS", "-5")
    with pytest.raises(ConfigError, match="NONLIN_MAX_JOB_SECONDS"):
        manager.submit(QUICK)


# --- the time limit ------------------------------------------------------------------------------
def test_a_job_past_the_time_limit_is_stopped_with_its_history_so_far(manager, monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_JOB_SECONDS", "1")
    handle = finished(manager.submit(LONG))
    message = "stopped at the time limit of 1 s (NONLIN_MAX_JOB_SECONDS)"
    assert (handle.status, handle.message, handle.member_status()) == ("stopped", message, "stopped")
    assert 0 < handle.snapshot.epoch < LONG.epochs and handle.snapshot.messages == [message]
    record = manager.store.get(LONG.key)
    assert (record.status, record.message) == ("stopped", message)
    assert len(record.history["epoch"]) == handle.snapshot.epoch > 0
    assert record.history["train_loss"] == list(handle.snapshot.history["train_loss"][0])
    monkeypatch.setenv("NONLIN_MAX_JOB_SECONDS", "0")                # 0: no limit
    again = manager.submit(LONG)                                     # stopped is not finished: it trains again
    assert not again.from_cache
    again.cancel()
    assert finished(again).status == "cancelled"


def test_a_sweep_past_the_time_limit_stops_and_skips_its_other_groups(manager, monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_JOB_SECONDS", "1")
    groups = plan(SweepSpec(LONG, ("relu",), (2, 3), (32,), seeds=1))
    sweep = finished(manager.submit_sweep(groups))
    message = "stopped at the time limit of 1 s (NONLIN_MAX_JOB_SECONDS)"
    assert (sweep.status, sweep.message) == ("stopped", message)
    assert [g.status for g in sweep.groups] == ["stopped", "stopped"]
    first, second = (manager.store.get(g[0].key) for g in groups)
    assert first.status == "stopped" and len(first.history["epoch"]) > 0
    assert second is None                                            # never started: nothing stored
    assert manager.active() == []


# --- failed sweeps -------------------------------------------------------------------------------
def test_a_sweep_whose_data_cannot_be_had_fails_once_and_stores_nothing(manager, tmp_path):
    base = RunConfig(dataset="csv", csv_path=str(tmp_path / "missing.csv"), target="y", epochs=20, device="cpu")
    with pytest.raises(DataError) as expected:
        datasets.load(base)
    groups = plan(SweepSpec(base, ("relu", "tanh"), (1, 2, 3), (4,), seeds=2))
    sweep = finished(manager.submit_sweep(groups))
    assert (sweep.status, sweep.message) == ("failed", str(expected.value))
    assert [(g.status, g.message) for g in sweep.groups] == [("failed", str(expected.value))] * len(groups)
    assert manager.store.count_runs() == 0 and manager.active() == []
    single = finished(manager.submit(base))                          # one run (Playground) is stored to re-run
    assert single.status == "failed" and manager.store.get(base.key).status == "failed"


def test_a_run_opened_on_the_playground_above_todays_cap_is_shown_and_a_new_one_refused(manager, app, monkeypatch):
    long_run = QUICK.replace(epochs=3000)
    assert finished(manager.submit(long_run)).status == "done"
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "2000")
    at = app("runs")
    at.session_state["pg_open"] = long_run.to_json()                 # what the Runs page's Open does
    at.switch_page("pages/playground.py").run()
    assert not at.exception, at.exception
    assert at.sidebar.number_input(key="pg_epochs").value == 3000
    assert any("3000 epochs from the run store" in s.value for s in at.success)
    at.sidebar.number_input(key="pg_seed").set_value(long_run.seed + 1).run()
    at.button(key="btn_pg_train").click().run()
    assert [e.value for e in at.error] == ["epochs: 3000 is above the server cap 2000"]
