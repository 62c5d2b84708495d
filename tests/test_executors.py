"""Executors behind the job manager: threads, local worker processes and a real local Ray cluster (started with
`ray start --head` on 127.0.0.1) stream the same runs with the same numbers, relay pause/step/resume/cancel, merge
compatible jobs, report data errors; NONLIN_EXECUTOR chooses, an unknown one is refused; `sweep` on Ray prints
the same runs as on threads."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nonlin_core import RunConfig
from nonlin_core.cli import main
from nonlin_core.config import ConfigError
from nonlin_core.executors import ProcessExecutor, executor_from_env
from nonlin_core.jobs import JobManager
from nonlin_core.store import SQLiteStore
from nonlin_core.training import METRICS, train
from tests.support.ray_cluster import ray_cluster

ROOT = Path(__file__).resolve().parents[1]
CONFIG = RunConfig(dataset="moons", n_samples=200, noise=0.2, epochs=600, hidden_layers=(8,), activation="tanh",
                   dtype="float64", device="cpu")
SWEEP = ["sweep", "--dataset", "circles", "--activations", "relu,tanh", "--depths", "1,2", "--widths", "4,8",
         "--seeds", "2", "--epochs", "200", "--json"]
TIMEOUT = 180


@pytest.fixture(scope="module")
def ray_address():
    pytest.importorskip("ray")
    import ray
    with ray_cluster() as address, pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_ADDRESS", address)
        try:
            yield address
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def processes_executor():
    executor = ProcessExecutor(1)
    yield executor
    executor.shutdown()


@pytest.fixture(scope="module")
def ray_executor(ray_address):
    from nonlin_core.ray_executor import RayExecutor
    executor = RayExecutor(1)
    yield executor
    executor.shutdown()


class Shared:
    """A module's executor lent to one test's manager: the manager's shutdown leaves it running."""

    def __init__(self, executor):
        self.executor, self.name, self.slots = executor, executor.name, executor.slots

    def stream(self, configs, spec, control):
        return self.executor.stream(configs, spec, control)

    def shutdown(self) -> None:
        pass


@pytest.fixture(params=["processes", pytest.param("ray", marks=pytest.mark.slow)])
def manager(request, store_path):
    executor = request.getfixturevalue(f"{request.param}_executor")
    store = SQLiteStore(store_path)
    made = JobManager(store, executor=Shared(executor), snapshot_seconds=0.05, grid_resolution=10)
    yield made
    made.shutdown()
    store.close()


def assert_equals_alone(handle, config: RunConfig) -> None:
    alone = train(config)
    for m in METRICS:
        np.testing.assert_allclose(handle.snapshot.history[m], alone.history[m], rtol=0, atol=1e-9, err_msg=m)


def test_a_job_streams_and_stores_the_same_run(manager):
    handle = manager.submit(CONFIG, owner="a")
    epochs = set()
    assert handle.wait_until(lambda h: (h.snapshot is not None and epochs.add(h.snapshot.epoch)) or h.finished, TIMEOUT)
    assert handle.wait(TIMEOUT) and handle.status == "done"
    assert len(epochs) >= 2 and handle.snapshot.grid.shape == (1, 2, 10, 10)
    assert_equals_alone(handle, CONFIG)
    record = manager.store.get(CONFIG.key)
    assert record.status == "done" and record.timelapse is not None and record.state_dict is not None
    assert np.array_equal(record.timelapse.params, handle.snapshot.timelapse.params)   # parameters at each frame
    assert record.timelapse.params.shape[:2] == (1, len(record.timelapse.epochs))
    assert manager.submit(CONFIG).from_cache


def test_lab_controls_reach_the_remote_run(manager):
    config = CONFIG.replace(epochs=3000, seed=3)
    handle = manager.submit(config, owner="a")
    handle.pause()
    assert handle.wait_until(lambda h: h.status == "paused", TIMEOUT)
    k = handle.snapshot.epoch
    assert handle.snapshot.timelapse.epochs[-1] == k                # a paused run's time-lapse comes with it
    handle.step(4)
    assert handle.wait_until(lambda h: h.status == "paused" and h.snapshot.epoch == k + 4, TIMEOUT)
    handle.resume()
    assert handle.wait_until(lambda h: h.status == "running" and h.snapshot.epoch > k + 4, TIMEOUT)
    handle.cancel()
    assert handle.wait(TIMEOUT) and handle.status == "cancelled" and handle.snapshot.epoch < config.epochs
    assert manager.store.get(config.key).status == "cancelled"
    again = manager.submit(CONFIG.replace(seed=4))             # the worker took the next job
    assert again.wait(TIMEOUT) and again.status == "done"


def test_compatible_queued_jobs_train_as_one_remote_job(manager):
    blocker = manager.submit(CONFIG.replace(dataset="circles", epochs=5000), owner="t")
    blocker.pause()
    assert blocker.wait_until(lambda h: h.status == "paused", TIMEOUT)
    configs = [CONFIG.replace(seed=s, lr=lr) for s, lr in ((1, 0.01), (2, 0.02), (3, 0.05))]
    handles = [manager.submit(c, owner=f"s{i}") for i, c in enumerate(configs)]
    started = manager.jobs_started
    blocker.cancel()
    for handle, config in zip(handles, configs):
        assert handle.wait(TIMEOUT) and handle.status == "done"
        assert_equals_alone(handle, config)
    assert manager.jobs_started == started + 1


def test_a_data_error_fails_the_job_and_the_worker_lives_on(manager, tmp_path):
    bad = RunConfig(dataset="csv", csv_path=str(tmp_path / "missing.csv"), target="y", device="cpu")
    failed = manager.submit(bad)
    assert failed.wait(TIMEOUT) and failed.status == "failed" and "missing.csv" in failed.message
    assert manager.store.get(bad.key).status == "failed"
    ok = manager.submit(CONFIG.replace(epochs=50))
    assert ok.wait(TIMEOUT) and ok.status == "done"


def test_a_dead_worker_process_fails_its_job_and_is_replaced(store_path):
    store = SQLiteStore(store_path)
    manager = JobManager(store, executor=ProcessExecutor(1), snapshot_seconds=0.05, grid_resolution=10)
    try:
        handle = manager.submit(CONFIG.replace(epochs=5000, seed=8))
        assert handle.wait_until(lambda h: h.snapshot is not None, TIMEOUT)
        (worker,) = manager.executor.workers                     # the one worker process, training it
        worker.proc.kill()
        assert handle.wait(TIMEOUT) and handle.status == "failed" and "died" in handle.message
        after = manager.submit(CONFIG.replace(epochs=50, seed=9))
        assert after.wait(TIMEOUT) and after.status == "done"
    finally:
        manager.shutdown()
        store.close()


def test_nonlin_executor_chooses_and_an_unknown_one_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("NONLIN_EXECUTOR", "threads")
    assert executor_from_env(2).name == "threads" and executor_from_env(2).slots == 2
    monkeypatch.setenv("NONLIN_EXECUTOR", "gpu-farm")
    with pytest.raises(ConfigError, match="NONLIN_EXECUTOR='gpu-farm' is not an executor; choose one of threads, "
                                          "processes, ray"):
        executor_from_env(2)
    for argv in (SWEEP, ["ui", "--port", "8659"]):          # the server refuses it before it starts
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "NONLIN_EXECUTOR='gpu-farm'" in err and "Traceback" not in err


def sweep_here(capsys) -> dict:
    assert main(SWEEP) == 0
    return json.loads(capsys.readouterr().out)


def test_sweep_prints_one_object_with_every_run(capsys, monkeypatch):
    monkeypatch.delenv("NONLIN_EXECUTOR", raising=False)
    out = sweep_here(capsys)
    runs = out["runs"]
    assert out["executor"] == "threads" and len(runs) == 2 * 2 * 2 * 2
    cells = {(r["activation"], r["depth"], r["width"], r["seed"]) for r in runs}
    assert cells == {(a, d, w, s) for a in ("relu", "tanh") for d in (1, 2) for w in (4, 8) for s in (0, 1)}
    for r in runs:
        config = RunConfig(dataset="circles", epochs=200, activation=r["activation"], seed=r["seed"],
                           hidden_layers=(r["width"],) * r["depth"])
        assert r["key"] == config.key and r["status"] == "done" and 0 <= r["test_acc"] <= 1


def test_sweep_runs_equal_their_runs_alone(capsys):
    args = ["sweep", "--dataset", "moons", "--activations", "tanh,relu", "--depths", "2", "--widths", "6", "--seeds",
            "2", "--epochs", "150", "--dtype", "float64", "--lr", "0.2", "--json"]
    assert main(args) == 0
    for r in json.loads(capsys.readouterr().out)["runs"]:
        alone = train(RunConfig(dataset="moons", epochs=150, dtype="float64", lr=0.2, activation=r["activation"],
                                seed=r["seed"], hidden_layers=(6, 6)))
        assert r["test_acc"] == alone.final[0]["test_acc"] and abs(r["train_acc"] - alone.final[0]["train_acc"]) < 1e-12


def test_sweep_json_is_the_only_thing_on_stdout_whatever_a_library_prints(capsys, monkeypatch):
    """Ray prints its raylet's notices (a stopped worker's, say) to the driver's stdout, at any time up to the
    driver's disconnect; with --json they go to stderr, and stdout stays one JSON object."""
    from nonlin_core import sweep_cli
    trained = sweep_cli.train_groups

    def noisy(groups):
        print("(raylet) A worker died or was killed while executing a task")
        finals = trained(groups)
        print("(raylet) another notice, after the last run")
        return finals

    monkeypatch.delenv("NONLIN_EXECUTOR", raising=False)
    monkeypatch.setattr(sweep_cli, "train_groups", noisy)
    assert main(SWEEP) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["runs"]) == 16
    assert captured.err.count("(raylet)") == 2


@pytest.mark.parametrize("argv, message", [
    (["--activations", "relu,nope"], "activation: 'nope' is not one of"),
    (["--depths", "1,x"], "not a comma-separated list"),
    (["--seeds", "0"], "--seeds: 0 is below 1"),
    (["--epochs", "999999"], "above the server cap"),
])
def test_sweep_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    args = list(SWEEP)
    for flag, value in zip(argv[::2], argv[1::2]):
        args[args.index(flag) + 1] = value
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_a_ray_executor_disconnects_the_driver_it_connected(ray_address):
    """Stopping the executor ends the driver's connection it made, and with it the threads that print the raylet's
    notices: nothing reaches a command's stdout after its output. A driver connected before it stays connected."""
    code = ("import ray; from nonlin_core.ray_executor import RayExecutor\n"
            "e = RayExecutor(1); up = ray.is_initialized(); e.shutdown(); print(up, ray.is_initialized())\n"
            "ray.init(address='auto', log_to_driver=False); e = RayExecutor(1); e.shutdown(); print(ray.is_initialized())")
    env = {**os.environ, "RAY_ADDRESS": ray_address, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "False", "True"]


def test_sweep_on_ray_gives_the_same_results(ray_address, capsys, monkeypatch):
    monkeypatch.delenv("NONLIN_EXECUTOR", raising=False)
    here = sweep_here(capsys)
    env = {**os.environ, "NONLIN_EXECUTOR": "ray", "RAY_ADDRESS": ray_address, "PYTHONPATH": str(ROOT),
           "NONLIN_WORKERS": "1"}                    # the cluster's other CPU holds this module's worker
    proc = subprocess.run([sys.executable, "-m", "nonlin_core", *SWEEP], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    on_ray = json.loads(proc.stdout)                          # stdout is exactly one JSON object
    assert on_ray["executor"] == "ray"
    assert on_ray["runs"] == here["runs"]


def test_running_snapshots_from_a_worker_process_carry_the_time_lapse_so_far(processes_executor):
    """Watchable pace draws recorded frames while a run trains: the pipe carries only new frames (and their
    parameters), joined again."""
    from nonlin_core.control import RunControl
    from nonlin_core.executors import TrainSpec, train_here

    spec = TrainSpec(grid=True, grid_resolution=10, snapshot_seconds=0.0, timelapse=True)
    running = []
    for snap in processes_executor.stream([CONFIG], spec, RunControl()):
        if not snap.done:
            running.append((snap.epoch, snap.timelapse))
    here = list(train_here([CONFIG], spec, RunControl()))
    assert running and all(tl is not None for _, tl in running)
    final = here[-1].timelapse
    for epoch, tl in running:        # each is a prefix of the whole recording, frames included
        n = len(tl.epochs)
        assert tl.epochs == final.epochs[:n] and np.array_equal(tl.frames, final.frames[:, :n])
        assert np.array_equal(tl.params, final.params[:, :n])       # and the parameters at those frames
    assert len(running[-1][1].epochs) > len(running[0][1].epochs)
