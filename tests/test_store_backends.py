"""The run store's contract on each backend (SQLite and a real PostgreSQL on 127.0.0.1): records round-trip,
listing pages without histories, schema versions and migrations, interrupted-run detection that never
compares a pid with another host's; NONLIN_STORE with an unknown scheme is refused."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nonlin_core.config import RunConfig
from nonlin_core.store import (
    HOST_ID,
    INTERRUPTED_MESSAGE,
    PROCESS_TOKEN,
    RunRecord,
    StoreConfigError,
    lease_seconds,
    open_store,
)
from nonlin_core.store_postgres import MIGRATIONS as POSTGRES_MIGRATIONS
from nonlin_core.store_sql import Migration
from nonlin_core.store_sqlite import MIGRATIONS as SQLITE_MIGRATIONS
from nonlin_core.timelapse import Timelapse

ROOT = Path(__file__).resolve().parents[1]
HISTORY = {"train_loss": [0.5, 0.25], "test_acc": [0.5, 0.75], "epoch": [1, 2]}
LATEST = SQLITE_MIGRATIONS[-1].version


@pytest.fixture
def store(store_url):
    made = open_store(store_url)
    yield made
    made.close()


def finish(store, config: RunConfig, status: str = "done", **extra) -> RunRecord:
    record = RunRecord(config.key, config, status, "", HISTORY, {"test_acc": 0.75}, "cpu", 0.5, **extra)
    store.finish(record)
    return record


def test_a_record_round_trips_with_its_state_dict_and_time_lapse(store):
    config = RunConfig(seed=1, epochs=7)
    state = {"0.weight": torch.arange(6, dtype=torch.float64).reshape(2, 3), "0.bias": torch.tensor([1.5, -2.0])}
    frames = np.random.default_rng(0).integers(0, 256, (1, 3, 1, 5, 5), dtype=np.uint8)
    finish(store, config, state_dict=state, timelapse=Timelapse([0, 1, 7], frames))
    back = store.get(config.key)
    assert (back.config, back.status, back.history, back.final, back.device, back.seconds) == (
        config, "done", HISTORY, {"test_acc": 0.75}, "cpu", 0.5)
    assert all(torch.equal(back.state_dict[n], t) for n, t in state.items())
    assert back.timelapse.epochs == [0, 1, 7] and np.array_equal(back.timelapse.frames, frames)
    assert store.get("no-such-key") is None


def test_pages_of_runs_newest_first_without_histories(store):
    configs = [RunConfig(seed=i, epochs=2) for i in range(5)]
    for config, status in zip(configs, ["done", "failed", "done", "done", "cancelled"]):
        finish(store, config, status)
    newest_first = [c.key for c in reversed(configs)]
    assert store.count_runs() == 5 and store.count_runs("done") == 3 and store.count_runs("diverged") == 0
    assert [r.key for r in store.list_runs(2)] == newest_first[:2]
    assert [r.key for r in store.list_runs(2, offset=2)] == newest_first[2:4]
    assert [r.key for r in store.list_runs(10, "done", offset=1)] == [configs[2].key, configs[0].key]
    assert all(r.history == {} and r.state_dict is None for r in store.list_runs())
    store._q("UPDATE runs SET history='not json' WHERE key=?", (configs[0].key,))
    assert configs[0].key in [r.key for r in store.list_runs()]        # a parse would raise here
    with pytest.raises(ValueError):
        store.get(configs[0].key)


def test_a_new_store_is_at_the_latest_schema_and_reopening_applies_nothing(store_url):
    first = open_store(store_url)
    try:
        assert first.migrated == list(range(1, LATEST + 1)) and first.schema_version == LATEST
    finally:
        first.close()
    again = open_store(store_url)
    try:
        assert again.migrated == [] and again.schema_version == LATEST
    finally:
        again.close()


def test_a_new_table_is_one_migration(store_url):
    """What a feature adding a table does: one more Migration in the backend's list; an existing store
    gets it (and only it) when it next opens, its runs untouched."""
    base = open_store(store_url)
    config = RunConfig(seed=4, epochs=2)
    finish(base, config)
    base.close()
    newer = type(base)

    class Newer(newer):
        MIGRATIONS = (*newer.MIGRATIONS, Migration(LATEST + 1, "notes", (
            "CREATE TABLE notes (key TEXT PRIMARY KEY, text TEXT NOT NULL)",)))

    upgraded = Newer(store_url)
    try:
        assert upgraded.migrated == [LATEST + 1] and upgraded.schema_version == LATEST + 1
        upgraded._q("INSERT INTO notes VALUES (?,?)", (config.key, "a note"))
        assert upgraded._q("SELECT text FROM notes") == [("a note",)]
        assert upgraded.get(config.key).history == HISTORY
    finally:
        upgraded.close()


OLD_SCHEMA = """CREATE TABLE runs (
    key TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
    history TEXT NOT NULL DEFAULT '{{}}', final TEXT, state_dict BLOB, device TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, updated_at REAL NOT NULL{extra})"""


@pytest.mark.parametrize("extra, found", [("", 1), (", timelapse BLOB", 2)])
def test_an_sqlite_file_from_before_schema_versions_upgrades_in_place(tmp_path, extra, found):
    """A store file written by earlier releases (no schema_version table; with or without the time-lapse
    column) keeps its runs and is brought to the latest schema."""
    path = tmp_path / "runs.sqlite3"
    old = RunConfig(seed=1, epochs=2)
    db = sqlite3.connect(path)
    db.execute(OLD_SCHEMA.format(extra=extra))
    db.execute("INSERT INTO runs(key, config, status, history, created_at, updated_at) VALUES (?,?,?,?,?,?)",
               (old.key, old.to_json(), "done", json.dumps(HISTORY), 1.0, 1.0))
    db.commit()
    db.close()
    store = open_store(path)
    try:
        assert store.migrated == list(range(found + 1, LATEST + 1)) and store.schema_version == LATEST
        assert store.get(old.key).history == HISTORY and store.get(old.key).timelapse is None
        versions = store._q("SELECT version, description FROM schema_version ORDER BY version")
        assert versions[0] == (found, "found in place") and [v for v, _ in versions] == list(range(found, LATEST + 1))
    finally:
        store.close()


def test_a_postgres_store_part_way_through_the_migrations_is_finished(pg_url):
    from nonlin_core.store_postgres import PostgresStore

    class Old(PostgresStore):
        MIGRATIONS = PostgresStore.MIGRATIONS[:1]

    old = Old(pg_url)
    assert old.migrated == [1]
    old._q("INSERT INTO runs(key, config, status, created_at, updated_at) VALUES (?,?,?,?,?)",
           ("k1", RunConfig(seed=9, epochs=2).to_json(), "done", 1.0, 1.0))
    old.close()
    store = open_store(pg_url)
    try:
        assert store.migrated == list(range(2, LATEST + 1)) and store.get("k1").config == RunConfig(seed=9, epochs=2)
    finally:
        store.close()


def insert_running(store, config: RunConfig, owner: str, updated_at: float, status: str = "running") -> None:
    store._q("INSERT INTO runs(key, config, status, owner, created_at, updated_at) VALUES (?,?,?,?,?,?)",
             (config.key, config.to_json(), status, owner, updated_at, updated_at))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(60)
    return proc.pid


def test_rows_of_gone_owners_are_interrupted_and_no_pid_is_checked_on_another_host(store_url):
    """Same host: a dead pid is dead at once. Another host: only its lease decides, even when its pid is one
    that is dead (or is this very process) here."""
    setup = open_store(store_url)
    now, gone = time.time(), dead_pid()
    rows = {
        "here, dead pid": (f"{HOST_ID}:{gone}:dead", now, "interrupted"),
        "here, dead pid, queued": (f"{HOST_ID}:{gone}:dead", now, "interrupted"),
        "here, this process": (f"{HOST_ID}:{os.getpid()}:{PROCESS_TOKEN}", now, "running"),
        "other host, our dead pid, fresh": (f"elsewhere~1:{gone}:abc", now, "running"),
        "other host, our own pid, fresh": (f"elsewhere~1:{os.getpid()}:abc", now, "running"),
        "other host, lease run out": (f"elsewhere~1:{os.getpid()}:abc", now - lease_seconds() - 5, "interrupted"),
    }
    configs = {name: RunConfig(seed=i, epochs=2) for i, name in enumerate(rows)}
    for name, (owner, updated, _) in rows.items():
        insert_running(setup, configs[name], owner, updated, "queued" if "queued" in name else "running")
    setup.close()
    store = open_store(store_url)
    try:
        assert store.recovered == 3
        for name, (_, _, expected) in rows.items():
            record = store.get(configs[name].key)
            assert record.status == expected, name
            assert (record.message == INTERRUPTED_MESSAGE) == (expected == "interrupted"), name
        assert store.recover() == 0
    finally:
        store.close()


def test_a_server_that_stays_open_sees_another_servers_rows_die_when_their_lease_runs_out(store_url, monkeypatch):
    monkeypatch.setenv("NONLIN_LEASE_SECONDS", "2")
    watcher = open_store(store_url)                     # a replica that was up before the other one died
    try:
        config = RunConfig(seed=3, epochs=2)
        insert_running(watcher, config, f"elsewhere~1:{os.getpid()}:abc", time.time())
        assert watcher.list_runs()[0].status == "running"
        end = time.monotonic() + 30
        while watcher.list_runs()[0].status == "running" and time.monotonic() < end:
            time.sleep(0.2)
        (listed,) = watcher.list_runs()
        assert listed.status == "interrupted" and listed.message == INTERRUPTED_MESSAGE
    finally:
        watcher.close()


@pytest.mark.parametrize("url", ["mysql://root@127.0.0.1/db", "postgresql2://u@h/d", "s3://bucket/runs"])
def test_an_unknown_store_scheme_is_refused(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreConfigError, match="unknown store scheme"):
        open_store(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NONLIN_STORE": url}
    out = subprocess.run([sys.executable, "-m", "nonlin_core", "runs"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 2 and "unknown store scheme" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []                  # no folder named after the scheme


def test_a_password_never_reaches_the_message(tmp_path):
    with pytest.raises(StoreConfigError) as err:
        open_store("mysql://teacher:hunter2@db.example/class")
    assert "hunter2" not in str(err.value) and "teacher:***@" in str(err.value)


def test_an_unreachable_postgres_is_one_line_and_exit_1(postgres, tmp_path):
    url = f"postgresql://nonlin:hunter2@127.0.0.1:{postgres.port}/no_such_database"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NONLIN_STORE": url}
    out = subprocess.run([sys.executable, "-m", "nonlin_core", "runs", "--json"], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 1 and "no_such_database" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.splitlines()) == 1 and "hunter2" not in out.stderr


def test_cli_train_save_to_postgres_then_runs_json_from_another_process(pg_url, tmp_path):
    """The CLI contract: NONLIN_STORE=postgresql://… train … --save stores the run there; runs --json in another
    process lists it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NONLIN_STORE": pg_url}
    trained = subprocess.run([sys.executable, "-m", "nonlin_core", "train", "--dataset", "circles", "--epochs", "20",
                              "--n-samples", "80", "--seed", "3", "--save", "--json"],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=180)
    assert trained.returncode == 0, trained.stderr
    run = json.loads(trained.stdout)
    listed = subprocess.run([sys.executable, "-m", "nonlin_core", "runs", "--json"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["key"], row["status"], row["config"]["dataset"], row["config"]["seed"]) == (run["key"], "done",
                                                                                           "circles", 3)
    assert row["final"]["test_acc"] == run["final"]["test_acc"]
    assert not (tmp_path / "postgresql:").exists()
    store = open_store(pg_url)
    try:
        assert store.get(run["key"]).history["test_acc"] == run["history"]["test_acc"]
    finally:
        store.close()


def test_the_app_says_an_unknown_store_scheme_on_the_page(app, monkeypatch):
    monkeypatch.setenv("NONLIN_STORE", "mysql://teacher:hunter2@db.example/class")
    at = app()
    (error,) = at.error
    assert "unknown store scheme 'mysql'" in error.value and "hunter2" not in error.value
    assert not at.get("plotly_chart")                     # nothing else ran


def test_both_backends_have_the_same_schema_versions():
    assert [m.version for m in SQLITE_MIGRATIONS] == [m.version for m in POSTGRES_MIGRATIONS] == list(range(1, LATEST + 1))
