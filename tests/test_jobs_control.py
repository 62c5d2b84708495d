"""Pause, resume, step and reset through a real JobManager (waiting on the handle's condition, no sleeps):
the resumed job equals an uninterrupted run, step trains exactly n epochs, reset starts over with the same
seed, and a job paused longer than NONLIN_PAUSE_SECONDS is released, stored "paused" with its history."""
from __future__ import annotations

import numpy as np
import pytest

from nonlin_core import RunConfig
from nonlin_core.jobs import BusyError, JobHandle, JobManager
from nonlin_core.store import SQLiteStore
from nonlin_core.training import METRICS, train

CONFIG = RunConfig(dataset="moons", n_samples=120, noise=0.2, epochs=1500, hidden_layers=(8,), activation="tanh",
                   optimizer="sgd", lr=0.1, momentum=0.9, dtype="float64", device="cpu")
MINIBATCH = CONFIG.replace(optimizer="adamw", lr=0.01, momentum=0.0, weight_decay=0.05, batch_size=16, epochs=200)
TIMEOUT = 60


@pytest.fixture
def manager(store_path):
    store = SQLiteStore(store_path)
    made = JobManager(store, max_per_owner=1, snapshot_seconds=0.05, grid_resolution=10)
    yield made
    made.shutdown()
    store.close()


def paused_at(handle: JobHandle, epoch: int | None = None) -> int:
    """Wait until the job is paused (at `epoch`, if given); the epoch it is paused at."""
    def ready(h: JobHandle) -> bool:
        return h.status == "paused" and (epoch is None or h.snapshot.epoch == epoch)
    assert handle.wait_until(ready, TIMEOUT), f"not paused at {epoch}: {handle.status}"
    return handle.snapshot.epoch


def assert_equals_uninterrupted(handle: JobHandle, config: RunConfig) -> None:
    assert handle.wait(TIMEOUT) and handle.status == "done"
    reference = train(config)
    for m in METRICS:
        np.testing.assert_allclose(handle.snapshot.history[m], reference.history[m], rtol=0, atol=1e-9, err_msg=m)


@pytest.mark.parametrize("config", [CONFIG, MINIBATCH], ids=["full-batch-sgd", "minibatch-adamw"])
def test_pause_step_resume_equals_an_uninterrupted_job(manager, config):
    handle = manager.submit(config, owner="a")
    handle.pause()
    k = paused_at(handle)
    assert k < config.epochs and handle.snapshot.history["train_loss"].shape == (1, k)
    assert manager.get(config.key) is handle and manager.submit(config, owner="a") is handle   # still its job
    handle.step(10)
    paused_at(handle, k + 10)
    handle.step(1)
    paused_at(handle, k + 11)
    handle.resume()
    assert_equals_uninterrupted(handle, config)
    record = manager.store.get(config.key)
    assert record.status == "done" and record.timelapse.epochs[-1] == config.epochs


def test_reset_starts_the_job_over(manager):
    handle = manager.submit(CONFIG, owner="a")
    handle.pause()
    k = paused_at(handle)
    handle.step(7)
    paused_at(handle, k + 7)
    handle.reset()
    paused_at(handle, 0)
    assert handle.snapshot.timelapse.epochs == [0]
    handle.resume()
    assert_equals_uninterrupted(handle, CONFIG)


def test_cancel_a_paused_job(manager):
    handle = manager.submit(CONFIG, owner="a")
    handle.pause()
    k = paused_at(handle)
    handle.cancel()
    assert handle.wait(TIMEOUT) and handle.status == "cancelled" and handle.snapshot.epoch == k
    assert manager.active() == []


def test_a_paused_job_counts_and_is_released_after_the_idle_timeout(manager, monkeypatch):
    monkeypatch.setenv("NONLIN_PAUSE_SECONDS", "0.3")
    handle = manager.submit(CONFIG, owner="a")
    handle.pause()
    k = paused_at(handle)
    with pytest.raises(BusyError):                      # paused, it still holds this session's one job
        manager.submit(CONFIG.replace(seed=9), owner="a")
    assert handle.wait(TIMEOUT)
    assert handle.status == "paused" and "NONLIN_PAUSE_SECONDS" in handle.message
    assert manager.active() == []
    record = manager.store.get(CONFIG.key)
    assert record.status == "paused" and len(record.history["train_loss"]) == k
    assert record.timelapse.epochs[-1] == k and record.state_dict is not None
    again = manager.submit(CONFIG, owner="a")          # a released run is not served: it trains afresh
    assert not again.from_cache
    again.cancel()
    again.wait(TIMEOUT)
