"""Cross-session batching and the fair queue: queued jobs of several sessions that share a batch key train as ONE
job, each member's history equal to its own run alone (float64, 1e-6), and only jobs of one activation merge; one
member's cancel or divergence touches only that member; the line is served round-robin by session."""
from __future__ import annotations

import time

import numpy as np
import pytest

from nonlin_core import RunConfig
from nonlin_core.executors import ThreadExecutor
from nonlin_core.jobs import JobHandle, JobManager
from nonlin_core.merging import MERGE_MATCH, merge_key
from nonlin_core.queueing import FairQueue
from nonlin_core.store import SQLiteStore
from nonlin_core.training import METRICS, PER_MEMBER, train

BASE = RunConfig(dataset="moons", n_samples=150, noise=0.2, epochs=120, hidden_layers=(8,), dtype="float64",
                 optimizer="adam", lr=0.01, batch_size=32, device="cpu")
BLOCKER = BASE.replace(dataset="circles", epochs=5000)          # another batch key: holds the only worker, paused
TIMEOUT = 120


class CountingExecutor(ThreadExecutor):
    """The threads executor, recording the configs of every job it trains."""

    def __init__(self, slots: int = 1):
        super().__init__(slots)
        self.jobs: list[list[RunConfig]] = []

    def stream(self, configs, spec, control):
        self.jobs.append(list(configs))
        return super().stream(configs, spec, control)


@pytest.fixture
def manager(store_path):
    store = SQLiteStore(store_path)
    made = JobManager(store, executor=CountingExecutor(1), snapshot_seconds=0.05, grid_resolution=10)
    yield made
    made.shutdown()
    store.close()


def hold_the_worker(manager: JobManager) -> JobHandle:
    """A job of another batch key, paused in the only worker: what is submitted next waits in the line."""
    blocker = manager.submit(BLOCKER, owner="teacher")
    blocker.pause()
    assert blocker.wait_until(lambda h: h.status == "paused", TIMEOUT)
    return blocker


def release(manager: JobManager, blocker: JobHandle) -> None:
    blocker.cancel()
    assert blocker.wait(TIMEOUT)


def assert_history_equals_alone(handle: JobHandle, config: RunConfig, epochs: int | None = None) -> None:
    alone = train(config)
    for m in METRICS:
        got = handle.snapshot.history[m]
        assert got.shape[0] == 1, "a member's handle streams its own run only"
        n = got.shape[1] if epochs is None else epochs
        np.testing.assert_allclose(got[:, :n], alone.history[m][:, :n], rtol=0, atol=1e-6, err_msg=m)


def test_compatible_jobs_of_several_sessions_train_as_one_job(manager):
    blocker = hold_the_worker(manager)
    configs = [BASE.replace(seed=s, lr=lr, momentum=m) for s, lr, m in
               ((1, 0.01, 0.0), (2, 0.02, 0.0), (3, 0.01, 0.5), (4, 0.005, 0.9))]
    handles = [manager.submit(c, owner=f"student{i}") for i, c in enumerate(configs)]
    assert all(h.status == "queued" for h in handles)
    release(manager, blocker)
    for handle in handles:
        assert handle.wait(TIMEOUT) and handle.status == "done"
    assert len(manager.executor.jobs) == 2                          # the blocker, then ONE job for all four
    assert sorted(c.key for c in manager.executor.jobs[1]) == sorted(c.key for c in configs)
    for handle, config in zip(handles, configs):
        assert handle.keys == [config.key] and handle.snapshot.done
        assert_history_equals_alone(handle, config)
        record = manager.store.get(config.key)                      # each member stored under its own key
        assert record.status == "done" and record.config == config
        assert record.history["test_acc"] == list(handle.snapshot.history["test_acc"][0])
        assert manager.submit(config).from_cache


def test_jobs_of_different_activations_train_as_separate_jobs(manager):
    blocker = hold_the_worker(manager)
    configs = [BASE.replace(seed=s, activation=a) for s, a in
               ((1, "relu"), (2, "tanh"), (3, "relu"), (4, "tanh"), (5, "relu"))]
    handles = [manager.submit(c, owner=f"student{i}") for i, c in enumerate(configs)]
    release(manager, blocker)
    for handle, config in zip(handles, configs):
        assert handle.wait(TIMEOUT) and handle.status == "done"
        assert_history_equals_alone(handle, config)
    jobs = [sorted(c.seed for c in job) for job in manager.executor.jobs[1:]]
    assert jobs == [[1, 3, 5], [2, 4]]                              # one job per activation, first come first
    assert all(len({c.activation for c in job}) == 1 for job in manager.executor.jobs)


def test_jobs_are_not_merged_while_a_worker_is_idle(store_path):
    store = SQLiteStore(store_path)
    manager = JobManager(store, executor=CountingExecutor(2), snapshot_seconds=0.05, grid_resolution=10)
    try:
        deadline = time.monotonic() + TIMEOUT
        while manager._queue.waiting < 2:                           # both workers idle, waiting for a job
            assert time.monotonic() < deadline
            time.sleep(0.01)                                        # polling a condition
        with manager._queue._cond:                                  # both queued before either worker wakes
            handles = [manager.submit(BASE.replace(seed=s), owner=f"s{s}") for s in (1, 2)]
        for handle in handles:
            assert handle.wait(TIMEOUT) and handle.status == "done"
        assert sorted(len(job) for job in manager.executor.jobs) == [1, 1]   # merged, one worker would idle
    finally:
        manager.shutdown()
        store.close()


def test_the_merge_rule_is_the_batch_key_plus_the_merge_match_fields():
    assert set(MERGE_MATCH) <= set(PER_MEMBER)                      # a rule about members of one batch key
    relu = BASE.replace(activation="relu")
    assert merge_key([relu]) == merge_key([relu.replace(seed=9, lr=0.5, momentum=0.9, weight_decay=0.1)])
    assert merge_key([relu]) != merge_key([relu.replace(activation="tanh")])
    assert merge_key([relu]) != merge_key([relu.replace(hidden_layers=(3,))])  # another batch key
    mixed = [relu, relu.replace(activation="tanh", seed=2)]        # a Compare batch: merges with the same mix only
    assert merge_key(mixed) == merge_key([mixed[1].replace(seed=5), relu.replace(seed=6), relu.replace(seed=7)])
    assert merge_key(mixed) not in (merge_key([relu]), merge_key([mixed[1]]))


def test_incompatible_or_paused_jobs_are_not_merged(manager):
    blocker = hold_the_worker(manager)
    other_shape = manager.submit(BASE.replace(hidden_layers=(4,)), owner="a")
    paused = manager.submit(BASE.replace(seed=7), owner="b")
    paused.pause()                                  # driven by its lab controls: trains alone, at epoch 0 paused
    plain = manager.submit(BASE.replace(seed=8), owner="c")
    release(manager, blocker)
    assert other_shape.wait(TIMEOUT) and other_shape.status == "done"
    assert paused.wait_until(lambda h: h.status == "paused", TIMEOUT) and paused.snapshot.epoch == 0
    paused.resume()
    for handle in (paused, plain):
        assert handle.wait(TIMEOUT) and handle.status == "done"
    assert [len(job) for job in manager.executor.jobs] == [1, 1, 1, 1]


def test_a_members_cancel_touches_only_that_member(manager):
    blocker = hold_the_worker(manager)
    long = BASE.replace(epochs=3000, batch_size=0, n_samples=400)
    configs = [long.replace(seed=s) for s in (1, 2, 3)]
    handles = [manager.submit(c, owner=f"s{i}") for i, c in enumerate(configs)]
    release(manager, blocker)
    assert handles[1].wait_until(lambda h: h.snapshot is not None and h.snapshot.epoch >= 5, TIMEOUT)
    handles[1].cancel()
    assert handles[1].wait(TIMEOUT) and handles[1].status == "cancelled"
    cut = handles[1].snapshot.epoch
    assert cut < long.epochs
    for k in (0, 2):
        assert handles[k].wait(TIMEOUT) and handles[k].status == "done" and handles[k].snapshot.epoch == long.epochs
        assert_history_equals_alone(handles[k], configs[k])
    assert_history_equals_alone(handles[1], configs[1], epochs=cut)  # its history so far is its own run's
    record = manager.store.get(configs[1].key)
    assert record.status == "cancelled" and len(record.history["epoch"]) == cut
    assert len(manager.executor.jobs) == 2


def test_a_members_divergence_touches_only_that_member(manager):
    blocker = hold_the_worker(manager)
    wild = RunConfig(dataset="spiral", optimizer="sgd", lr=10.0, momentum=0.99, hidden_layers=(64, 64, 64),
                     activation="none", epochs=30, dtype="float64", device="cpu")
    calm = wild.replace(lr=0.01, seed=5)
    handles = [manager.submit(calm, owner="a"), manager.submit(wild, owner="b")]
    release(manager, blocker)
    assert [h.wait(TIMEOUT) for h in handles] == [True, True]
    assert handles[0].status == "done" and handles[1].status == "diverged"
    assert "learning rate" in handles[1].message and not handles[0].message
    assert_history_equals_alone(handles[0], calm)
    assert manager.store.get(wild.key).status == "diverged" and len(manager.executor.jobs) == 2


def test_the_line_is_round_robin_by_session():
    line = FairQueue()
    for item, owner in (("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("b2", "b")):
        line.put(item, owner)
    assert line.order() == ["a1", "b1", "c1", "a2", "b2", "a3"]
    taken = [line.take(timeout=0)[0] for _ in range(3)]
    line.put("d1", "d")                              # a newcomer waits one round at most, not behind a's backlog
    taken += [line.take(timeout=0)[0] for _ in range(4)]
    assert taken == ["a1", "b1", "c1", "a2", "b2", "d1", "a3"]
    assert line.take(timeout=0) is None and line.close() == []


def test_take_gathers_compatible_items_in_fair_order():
    line = FairQueue()
    for item, owner, key in (("a1", "a", "x"), ("a2", "a", "x"), ("b1", "b", "y"), ("c1", "c", "x"), ("d1", "d", None)):
        line.put(item, owner, key)
    assert line.take(max_members=2) == ["a1", "c1"]  # c1 before a2: fair order; capped at two
    assert line.take(max_members=8, joins=lambda item, group: item != "a2") == ["b1"]
    assert line.take(max_members=8) == ["d1"] and line.take(max_members=8) == ["a2"]   # a served last round


def test_the_manager_serves_sessions_in_turn(manager):
    blocker = hold_the_worker(manager)
    shapes = [(3,), (5,), (7,)]                       # three batch keys: never merged
    mine = [manager.submit(BASE.replace(hidden_layers=h), owner="eager") for h in shapes]
    other = manager.submit(BASE.replace(hidden_layers=(9,)), owner="patient")
    assert [manager.queued_ahead(h) for h in mine] == [0, 2, 3]
    assert manager.queued_ahead(other) == 1           # after eager's first, not after all three
    release(manager, blocker)
    for handle in [*mine, other]:
        assert handle.wait(TIMEOUT) and handle.status == "done"
    order = [job[0].hidden_layers for job in manager.executor.jobs[1:]]
    assert order == [(3,), (9,), (5,), (7,)]


def test_a_member_paused_inside_a_batch_goes_on_alone_from_where_it_was(manager):
    blocker = hold_the_worker(manager)
    long = BASE.replace(epochs=1500, batch_size=0, n_samples=300)
    configs = [long.replace(seed=1, lr=0.02), long.replace(seed=2)]
    pauser, other = (manager.submit(c, owner=f"s{i}") for i, c in enumerate(configs))
    release(manager, blocker)
    assert pauser.wait_until(lambda h: h.snapshot is not None and h.snapshot.epoch >= 5, TIMEOUT)
    shown = pauser.snapshot.epoch
    pauser.pause()                                   # the other member must not pause
    assert pauser.wait_until(lambda h: h.status == "paused", TIMEOUT)
    k = pauser.snapshot.epoch
    assert k >= shown and pauser.snapshot.history["train_loss"].shape == (1, k)
    assert other.wait(TIMEOUT) and other.status == "done"
    assert_history_equals_alone(other, configs[1])
    assert_history_equals_alone(pauser, configs[0])                  # retraced alone, the same numbers
    pauser.step(3)
    assert pauser.wait_until(lambda h: h.status == "paused" and h.snapshot.epoch == k + 3, TIMEOUT)
    pauser.resume()
    assert pauser.wait(TIMEOUT) and pauser.status == "done"
    assert_history_equals_alone(pauser, configs[0])
    assert [len(job) for job in manager.executor.jobs] == [1, 2, 1]
