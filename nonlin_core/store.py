"""Run store: a small interface and its SQLite implementation (one file in the data dir).
Rows left 'running' by a dead process are marked 'interrupted' when a store opens; a file that is not
a readable database is moved aside (never deleted) and a fresh store starts in its place."""
from __future__ import annotations

import io
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .config import RunConfig
from .timelapse import Timelapse

PROCESS_TOKEN = uuid.uuid4().hex          # one per process: tells this process's rows from others'
FINISHED = ("done", "diverged")           # served from the store without training
STALE_SECONDS = 120.0                     # a running row not touched for this long is dead
UNREADABLE = ("SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_CANTOPEN", "SQLITE_PERM")   # moved aside, then a fresh store
log = logging.getLogger("nonlin")


@dataclass
class RunRecord:
    key: str
    config: RunConfig
    status: str                            # queued, running, done, diverged, cancelled, stopped, failed, interrupted
    message: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)     # only from get(), not from list_runs()
    final: dict | None = None
    device: str = ""
    seconds: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    state_dict: dict | None = None        # only from get(), not from list_runs()
    timelapse: Timelapse | None = None    # only from get(); None for runs stored before time-lapses


class RunStore(Protocol):
    def begin(self, config: RunConfig) -> None: ...
    def touch(self, key: str) -> None: ...
    def finish(self, record: RunRecord) -> None: ...
    def get(self, key: str) -> RunRecord | None: ...
    def list_runs(self, limit: int = 100, status: str | None = None, *, offset: int = 0) -> list[RunRecord]: ...
    def count_runs(self, status: str | None = None) -> int: ...


def history_lists(history: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """One member's history arrays -> JSON-safe lists (NaN tail of a diverged run dropped)."""
    out = {m: [float(x) for x in np.asarray(v).ravel()] for m, v in history.items()}
    n = min((next((i for i, x in enumerate(v) if x != x), len(v)) for v in out.values()), default=0)
    out = {m: v[:n] for m, v in out.items()}
    out["epoch"] = list(range(1, n + 1))
    return out


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{PROCESS_TOKEN}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SQLiteStore:
    """Thread-safe SQLite run store; one connection guarded by a lock, WAL journal."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS runs (
        key TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
        history TEXT NOT NULL DEFAULT '{}', final TEXT, state_dict BLOB, device TEXT NOT NULL DEFAULT '',
        seconds REAL NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL, updated_at REAL NOT NULL, timelapse BLOB)"""
    ADDED_COLUMNS = {"timelapse": "BLOB"}     # columns newer than a store file: added in place when it opens

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.moved_aside: Path | None = None     # where a corrupt store file was moved when this store opened
        problem = _unreadable(self.path)         # checked before SQLite touches the file or its -wal
        if problem is None:
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorname", "") not in UNREADABLE:
                    raise                                     # e.g. busy or locked: the file is fine
                problem = str(exc)
        if problem is not None:
            self.moved_aside = _move_aside(self.path)
            log.warning("run store %s could not be read (%s): moved it to %s and started a fresh store",
                        self.path, problem, self.moved_aside.name)
            self._db = self._open()
        self.recovered = self.recover()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(self.SCHEMA)
            self._migrate(db)
            db.execute("CREATE INDEX IF NOT EXISTS runs_updated ON runs(updated_at)")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Upgrade a store file made by an older schema: add the columns it lacks (old rows get NULL)."""
        have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        for name, kind in self.ADDED_COLUMNS.items():
            if name not in have:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")

    def recover(self) -> int:
        """Mark rows that a dead process left queued/running as interrupted; returns how many."""
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        with self._lock:
            rows = self._db.execute("SELECT key, owner, updated_at FROM runs WHERE status IN ('queued','running')").fetchall()
            dead = []
            for key, owner, updated in rows:
                o_host, o_pid, o_token = (owner.split(":") + ["", "", ""])[:3]
                if o_token == PROCESS_TOKEN:
                    continue                                  # ours: another store object in this process
                same_host_dead = o_host == host and (not o_pid.isdigit() or int(o_pid) == pid or not _pid_alive(int(o_pid)))
                if same_host_dead or now - updated > STALE_SECONDS:
                    dead.append(key)
            for key in dead:
                self._db.execute("UPDATE runs SET status='interrupted', message=?, updated_at=? WHERE key=?",
                                 ("the server stopped while this run was training; run it again", now, key))
        return len(dead)

    def begin(self, config: RunConfig) -> None:
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO runs(key, config, status, owner, created_at, updated_at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET status='running', message='', owner=excluded.owner, "
                "updated_at=excluded.updated_at",
                (config.key, config.to_json(), "running", _owner(), now, now))

    def touch(self, key: str) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET updated_at=? WHERE key=?", (time.time(), key))

    def finish(self, record: RunRecord) -> None:
        blob = None
        if record.state_dict is not None:
            buf = io.BytesIO()
            torch.save(record.state_dict, buf)
            blob = buf.getvalue()
        frames = None if record.timelapse is None else record.timelapse.to_bytes()
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO runs(key, config, status, message, history, final, state_dict, device, seconds, owner,"
                " created_at, updated_at, timelapse) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE"
                " SET status=excluded.status, message=excluded.message, history=excluded.history,"
                " final=excluded.final, state_dict=excluded.state_dict, device=excluded.device,"
                " seconds=excluded.seconds, owner=excluded.owner, updated_at=excluded.updated_at,"
                " timelapse=excluded.timelapse",
                (record.key, record.config.to_json(), record.status, record.message, json.dumps(record.history),
                 json.dumps(record.final) if record.final is not None else None, blob, record.device,
                 record.seconds, _owner(), now, now, frames))

    _COLUMNS = "key, config, status, message, history, final, device, seconds, created_at, updated_at"
    _LIST_COLUMNS = _COLUMNS.replace("history", "'{}'")          # listing never parses histories

    def _record(self, row, state_blob=None, frames_blob=None) -> RunRecord:
        key, config, status, message, history, final, device, seconds, created, updated = row
        state = torch.load(io.BytesIO(state_blob), weights_only=True) if state_blob else None
        return RunRecord(key, RunConfig.from_dict(json.loads(config)), status, message, json.loads(history),
                         json.loads(final) if final else None, device, seconds, created, updated, state,
                         Timelapse.from_bytes(frames_blob) if frames_blob else None)

    def get(self, key: str) -> RunRecord | None:
        """The whole run: history, state dict and time-lapse too."""
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLUMNS}, state_dict, timelapse FROM runs WHERE key=?",
                                   (key,)).fetchone()
        return self._record(row[:-2], row[-2], row[-1]) if row else None

    def list_runs(self, limit: int = 100, status: str | None = None, *, offset: int = 0) -> list[RunRecord]:
        """Newest first, without histories (history == {}), state dicts or time-lapses; get(key) has them."""
        where, args = (" WHERE status=?", (status,)) if status else ("", ())
        with self._lock:
            rows = self._db.execute(f"SELECT {self._LIST_COLUMNS} FROM runs{where} ORDER BY updated_at DESC "
                                    "LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        return [self._record(r) for r in rows]

    def count_runs(self, status: str | None = None) -> int:
        """How many runs list_runs can page through."""
        where, args = (" WHERE status=?", (status,)) if status else ("", ())
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM runs{where}", args).fetchone()[0]

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        """One statement of portable SQL ('?' placeholders) under the store's lock: the rows it returns.
        For tables beside runs (challenge.py keeps its leaderboard here)."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _unreadable(path: Path) -> str | None:
    """Why an existing store file cannot be a SQLite database (it cannot be read, or its header is not
    SQLite's); None when it may be one (or is absent or empty: a new store)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if head in (b"", b"SQLite format 3\x00") else "file is not a database"


def _move_aside(path: Path) -> Path:
    """Rename a store file and its -wal/-shm to <name>.corrupt-<time>; returns the new path of the file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while moved.exists():
        n += 1
        moved = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("-wal", "-shm", ""):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(f"{moved}{suffix}")
    return moved


def store_path() -> Path:
    """NONLIN_STORE, else runs.sqlite3 in the data dir (NONLIN_DATA_DIR)."""
    from .datasets import data_dir
    return Path(os.environ.get("NONLIN_STORE") or data_dir() / "runs.sqlite3")


def default_store() -> SQLiteStore:
    return SQLiteStore(store_path())
