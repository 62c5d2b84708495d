"""Run store: listing pages through runs without reading their histories, and a corrupt or unreadable
store file is moved aside (never deleted) for a fresh store, said once in the log and by the CLI."""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nonlin_core.config import RunConfig
from nonlin_core.store import RunRecord, SQLiteStore, default_store
from nonlin_core.timelapse import Timelapse

ROOT = Path(__file__).resolve().parents[1]
HISTORY = {"train_loss": [0.5, 0.25], "test_acc": [0.5, 0.75], "epoch": [1, 2]}


def stored_runs(store: SQLiteStore, statuses: list[str]) -> list[RunConfig]:
    """One finished record per status, oldest first."""
    configs = [RunConfig(seed=i, epochs=2) for i in range(len(statuses))]
    for config, status in zip(configs, statuses):
        store.finish(RunRecord(config.key, config, status, "", HISTORY, {"test_acc": 0.75}, "cpu", 0.5))
    return configs


@pytest.fixture
def store(store_path):
    made = SQLiteStore(store_path)
    yield made
    made.close()


def test_list_runs_leaves_histories_to_get(store):
    (config,) = stored_runs(store, ["done"])
    (listed,) = store.list_runs()
    assert (listed.key, listed.config, listed.status, listed.final) == (config.key, config, "done", {"test_acc": 0.75})
    assert listed.history == {} and listed.state_dict is None
    assert store.get(config.key).history == HISTORY


def test_list_runs_never_parses_a_history(store):
    (config,) = stored_runs(store, ["done"])
    store._db.execute("UPDATE runs SET history='not json' WHERE key=?", (config.key,))
    assert [r.key for r in store.list_runs()] == [config.key]          # a parse would raise here
    with pytest.raises(ValueError):
        store.get(config.key)


OLD_SCHEMA = """CREATE TABLE runs (
    key TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
    history TEXT NOT NULL DEFAULT '{}', final TEXT, state_dict BLOB, device TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, updated_at REAL NOT NULL)"""


def a_timelapse(seed: int = 0) -> Timelapse:
    frames = np.random.default_rng(seed).integers(0, 256, (1, 3, 1, 5, 5), dtype=np.uint8)
    return Timelapse([0, 1, 7], frames)


def test_a_store_made_by_the_old_schema_is_upgraded_in_place(store_path):
    old = RunConfig(seed=1, epochs=2)
    db = sqlite3.connect(store_path)
    db.execute(OLD_SCHEMA)
    db.execute("INSERT INTO runs(key, config, status, history, created_at, updated_at) VALUES (?,?,?,?,?,?)",
               (old.key, old.to_json(), "done", json.dumps(HISTORY), 1.0, 1.0))
    db.commit()
    db.close()
    store = SQLiteStore(store_path)
    try:
        assert store.moved_aside is None
        record = store.get(old.key)
        assert record.status == "done" and record.history == HISTORY and record.timelapse is None   # an old run
        new = RunConfig(seed=2, epochs=7)
        store.finish(RunRecord(new.key, new, "done", "", HISTORY, None, "cpu", 0.5, timelapse=a_timelapse()))
        got = store.get(new.key).timelapse
        assert got.epochs == [0, 1, 7] and np.array_equal(got.frames, a_timelapse().frames)
    finally:
        store.close()
    reopened = SQLiteStore(store_path)                   # upgraded once: a second open changes nothing
    try:
        assert reopened.get(new.key).timelapse.epochs == [0, 1, 7] and reopened.get(old.key).timelapse is None
    finally:
        reopened.close()


def test_list_runs_never_reads_a_time_lapse(store):
    config = RunConfig(seed=3, epochs=7)
    store.finish(RunRecord(config.key, config, "done", "", HISTORY, None, "cpu", 0.5, timelapse=a_timelapse(3)))
    store._db.execute("UPDATE runs SET timelapse=X'00' WHERE key=?", (config.key,))
    (listed,) = store.list_runs()                       # a read would fail on these bytes
    assert listed.key == config.key and listed.timelapse is None
    with pytest.raises(Exception):  # noqa: B017 - whatever numpy raises for bytes that are not an .npz
        store.get(config.key)


def test_pages_of_runs_and_their_count(store):
    configs = stored_runs(store, ["done", "failed", "done", "done", "cancelled"])
    newest_first = [c.key for c in reversed(configs)]
    assert store.count_runs() == 5 and store.count_runs("done") == 3 and store.count_runs("diverged") == 0
    assert [r.key for r in store.list_runs(2)] == newest_first[:2]
    assert [r.key for r in store.list_runs(2, offset=2)] == newest_first[2:4]
    assert [r.key for r in store.list_runs(2, offset=4)] == newest_first[4:]
    assert [r.key for r in store.list_runs(10, "done", offset=1)] == [configs[2].key, configs[0].key]
    assert store.list_runs(10, offset=5) == []


def corrupt(path: Path) -> dict[str, bytes]:
    """A store file (and -wal / -shm) of garbage, as `echo garbage > runs.sqlite3` leaves it."""
    parts = {"": b"garbage\n", "-wal": b"wal garbage\n", "-shm": b"shm garbage\n"}
    for suffix, data in parts.items():
        Path(f"{path}{suffix}").write_bytes(data)
    return parts


def test_a_corrupt_store_is_moved_aside_and_a_fresh_one_starts(store_path, caplog):
    parts = corrupt(store_path)
    with caplog.at_level(logging.WARNING, logger="nonlin"):
        store = default_store()
    try:
        moved = store.moved_aside
        assert moved is not None and moved.parent == store_path.parent
        assert moved.name.startswith("runs.sqlite3.corrupt-")
        for suffix, data in parts.items():                       # never deleted: every byte kept
            assert Path(f"{moved}{suffix}").read_bytes() == data
        assert [r.getMessage() for r in caplog.records if r.name == "nonlin"] == [
            f"run store {store_path} could not be read (file is not a database): moved it to {moved.name} "
            "and started a fresh store"]
        assert store.list_runs() == [] and store.count_runs() == 0
        (config,) = stored_runs(store, ["done"])
        assert store.get(config.key).status == "done"
    finally:
        store.close()
    again = SQLiteStore(store_path)                              # the fresh store is a good one now
    try:
        assert again.moved_aside is None and again.count_runs() == 1
    finally:
        again.close()


def test_a_second_corrupt_store_does_not_overwrite_the_first(tmp_path):
    path = tmp_path / "runs.sqlite3"
    moved = []
    for text in (b"first\n", b"second\n"):
        path.write_bytes(text)
        store = SQLiteStore(path)
        moved.append(store.moved_aside)
        store.close()
        path.unlink()
    assert moved[0] != moved[1]
    assert [m.read_bytes() for m in moved] == [b"first\n", b"second\n"]


def test_a_healthy_store_is_not_moved(store_path):
    sqlite3.connect(store_path).close()                          # an empty but valid database file
    store = SQLiteStore(store_path)
    try:
        assert store.moved_aside is None and store.count_runs() == 0
        assert sorted(p.name for p in store_path.parent.iterdir() if "corrupt" in p.name) == []
    finally:
        store.close()


def test_cli_on_a_corrupt_store_says_so_in_one_line_and_saves_the_run(store_path):
    corrupt(store_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NONLIN_STORE": str(store_path)}
    out = subprocess.run([sys.executable, "-m", "nonlin_core", "train", "--epochs", "5", "--n-samples", "60",
                          "--save", "--json"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "could not be read" in lines[0] and "corrupt-" in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    store = SQLiteStore(store_path)
    try:
        assert [r.status for r in store.list_runs()] == ["done"]
    finally:
        store.close()
