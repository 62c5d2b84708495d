"""A job adopted by its remote worker after its server died (adoption.py; the Ray executor's actors use it): the
worker claims the job's unfinished rows, keeps its time limit and stores each run as the server would have,
leaving runs the server had already finished alone. In-process here; the real thing (a Ray actor outliving a
killed server) is tests/browser/test_replicas.py[ray]."""
from __future__ import annotations

import numpy as np

from nonlin_core import RunConfig
from nonlin_core.adoption import Adoption, store_location
from nonlin_core.control import RunControl
from nonlin_core.executors import TrainSpec, train_here
from nonlin_core.store import RunRecord, SQLiteStore, owner_id
from nonlin_core.training import train

BASE = RunConfig(dataset="moons", n_samples=150, noise=0.2, epochs=80, hidden_layers=(8,), dtype="float64",
                 batch_size=32, device="cpu")
SPEC = TrainSpec(grid=True, grid_resolution=10, snapshot_seconds=0.0, timelapse=True)


def rows_of_a_dead_server(store: SQLiteStore, configs: list[RunConfig]) -> None:
    for c in configs:
        store.begin(c)
        store._q("UPDATE runs SET owner=? WHERE key=?", ("another-host:4242:gone", c.key))


def test_an_adopted_job_is_stored_as_its_server_would_have(store_path):
    store = SQLiteStore(store_path)
    configs = [BASE.replace(seed=s) for s in (1, 2, 3)]
    rows_of_a_dead_server(store, configs)
    store._q("UPDATE runs SET status='interrupted' WHERE key=?", (configs[1].key,))   # a replica saw it die first
    store.finish(RunRecord(configs[2].key, configs[2], "cancelled", "cancelled by the user"))   # before it died
    assert store_location(store) == str(store_path)
    adoption = Adoption(configs, store_location(store), time_limit=0)
    assert {store.get(c.key).status for c in configs[:2]} == {"running"}
    assert {store._q("SELECT owner FROM runs WHERE key=?", (c.key,))[0][0] for c in configs[:2]} == {owner_id()}
    control, last = RunControl(), None
    for last in train_here(configs, SPEC, control):
        adoption.step(control)
    adoption.finish(configs, last)
    for c in configs[:2]:
        record, alone = store.get(c.key), train(c)
        assert record.status == "done" and record.state_dict is not None and record.timelapse is not None
        np.testing.assert_allclose(record.history["test_loss"], alone.history["test_loss"][0], rtol=0, atol=1e-6)
    assert store.get(configs[2].key).status == "cancelled"           # finished by its server: left alone
    store.close()


def test_an_adopted_job_stops_at_its_time_limit_and_a_crash_is_stored_failed(store_path):
    store = SQLiteStore(store_path)
    long, other = BASE.replace(epochs=5000, seed=7), BASE.replace(seed=8)
    rows_of_a_dead_server(store, [long, other])
    adoption = Adoption([long], str(store_path), time_limit=0.3)
    control, last = RunControl(), None
    for last in train_here([long], SPEC, control):
        adoption.step(control)
    adoption.finish([long], last)
    record = store.get(long.key)
    assert record.status == "stopped" and "time limit of 0.3 s" in record.message
    assert 0 < len(record.history["epoch"]) < long.epochs
    Adoption([other], str(store_path), time_limit=0).finish([other], None, "the data file vanished")
    assert (store.get(other.key).status, store.get(other.key).message) == ("failed", "the data file vanished")
    store.close()
