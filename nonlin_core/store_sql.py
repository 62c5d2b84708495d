"""What the SQL backends share: the queries (written with ? placeholders), record encoding and the
schema migrations runner. A backend supplies its connection, its placeholder and its MIGRATIONS list;
a new table or column is one more Migration in each backend's list."""
from __future__ import annotations

import io
import json
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from .config import RunConfig
from .store import INTERRUPTED_MESSAGE, RunRecord, heartbeat_seconds, owner_dead, owner_id
from .timelapse import Timelapse


@dataclass(frozen=True)
class Migration:
    """Schema version `version` is reached by running `statements` (in one transaction) on version - 1."""
    version: int
    description: str
    statements: tuple[str, ...]


# The challenge leaderboard's tables (challenge.py), the same standard SQL in every backend
LEADERBOARD = Migration(4, "challenge leaderboard", (
    "CREATE TABLE IF NOT EXISTS challenges (name TEXT PRIMARY KEY, status TEXT NOT NULL, "
    "updated_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS submissions (id TEXT PRIMARY KEY, challenge TEXT NOT NULL, "
    "name TEXT NOT NULL, run_key TEXT NOT NULL, owner TEXT NOT NULL, test_acc DOUBLE PRECISION NOT NULL, "
    "params INTEGER NOT NULL, model TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, "
    "UNIQUE (challenge, name, run_key))",
))


class SQLRunStore:
    """The RunStore of a SQL database: one connection guarded by a lock; subclasses open it."""

    PLACEHOLDER = "?"
    MIGRATIONS: tuple[Migration, ...] = ()

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._last_recover = 0.0
        self.moved_aside = None                  # SQLite only: where an unreadable file was moved
        self.migrated = self._connect()          # the schema versions this open applied
        self.recovered = self.recover()

    # --- a backend provides these -------------------------------------------------------------------
    def _connect(self) -> list[int]:
        """Open the connection and bring the schema up to date (self._migrate()); returns what it applied."""
        raise NotImplementedError

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Run one statement (autocommit) and return its rows; called under self._lock."""
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager:
        """A write transaction that serialises schema upgrades between processes."""
        raise NotImplementedError

    def _found_version(self) -> int:
        """The schema version of a database made before schema_version existed (0: an empty database)."""
        return 0

    # --- schema ------------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._q("SELECT MAX(version) FROM schema_version")[0][0] or 0

    def _migrate(self) -> list[int]:
        """Bring the database to the newest schema; returns the versions applied (none when current)."""
        applied: list[int] = []
        with self._lock, self._transaction():
            self._q("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                    "description TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
            current = self._q("SELECT MAX(version) FROM schema_version")[0][0]
            if current is None:                      # a store from before versioning: adopt what it has
                current = self._found_version()
                if current:
                    self._q("INSERT INTO schema_version VALUES (?,?,?)", (current, "found in place", time.time()))
            for m in self.MIGRATIONS:
                if m.version > current:
                    for statement in m.statements:
                        self._q(statement)
                    self._q("INSERT INTO schema_version VALUES (?,?,?)", (m.version, m.description, time.time()))
                    applied.append(m.version)
        return applied

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._execute(sql if self.PLACEHOLDER == "?" else sql.replace("?", self.PLACEHOLDER), args)

    # --- the RunStore interface ----------------------------------------------------------------------
    def recover(self) -> int:
        """Mark rows whose owner is gone (lease run out, or a dead process of this host) as interrupted."""
        now = time.time()
        with self._lock:
            self._last_recover = now
            rows = self._q("SELECT key, owner, updated_at FROM runs WHERE status IN ('queued','running')")
            dead = [key for key, owner, updated in rows if owner_dead(owner, updated, now)]
            for key in dead:
                self._q("UPDATE runs SET status='interrupted', message=?, updated_at=? WHERE key=? "
                        "AND status IN ('queued','running')", (INTERRUPTED_MESSAGE, now, key))
        return len(dead)

    def _recover_now_and_then(self) -> None:
        """Another server's rows die with it: look again at most every heartbeat (cheap: an index-free scan
        of the few running rows)."""
        if time.time() - self._last_recover > heartbeat_seconds():
            self.recover()

    def begin(self, config: RunConfig) -> None:
        now = time.time()
        with self._lock:
            self._q("INSERT INTO runs(key, config, status, owner, created_at, updated_at) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(key) DO UPDATE SET status='running', message='', owner=excluded.owner, "
                    "updated_at=excluded.updated_at", (config.key, config.to_json(), "running", owner_id(), now, now))

    def touch(self, key: str) -> None:
        with self._lock:
            self._q("UPDATE runs SET updated_at=? WHERE key=?", (time.time(), key))

    def finish(self, record: RunRecord) -> None:
        blob = None
        if record.state_dict is not None:
            buf = io.BytesIO()
            torch.save(record.state_dict, buf)
            blob = buf.getvalue()
        frames = None if record.timelapse is None else record.timelapse.to_bytes()
        now = time.time()
        with self._lock:
            self._q(
                "INSERT INTO runs(key, config, status, message, history, final, state_dict, device, seconds, owner,"
                " created_at, updated_at, timelapse) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE"
                " SET status=excluded.status, message=excluded.message, history=excluded.history,"
                " final=excluded.final, state_dict=excluded.state_dict, device=excluded.device,"
                " seconds=excluded.seconds, owner=excluded.owner, updated_at=excluded.updated_at,"
                " timelapse=excluded.timelapse",
                (record.key, record.config.to_json(), record.status, record.message, json.dumps(record.history),
                 json.dumps(record.final) if record.final is not None else None, blob, record.device,
                 float(record.seconds), owner_id(), now, now, frames))

    _COLUMNS = "key, config, status, message, history, final, device, seconds, created_at, updated_at"
    _LIST_COLUMNS = _COLUMNS.replace("history", "'{}'")          # listing never parses histories

    @staticmethod
    def _record(row, state_blob=None, frames_blob=None) -> RunRecord:
        key, config, status, message, history, final, device, seconds, created, updated = row
        state = torch.load(io.BytesIO(bytes(state_blob)), weights_only=True) if state_blob else None
        return RunRecord(key, RunConfig.from_dict(json.loads(config)), status, message, json.loads(history),
                         json.loads(final) if final else None, device, seconds, created, updated, state,
                         Timelapse.from_bytes(bytes(frames_blob)) if frames_blob else None)

    def get(self, key: str) -> RunRecord | None:
        """The whole run: history, state dict and time-lapse too."""
        self._recover_now_and_then()
        with self._lock:
            rows = self._q(f"SELECT {self._COLUMNS}, state_dict, timelapse FROM runs WHERE key=?", (key,))
        return self._record(rows[0][:-2], rows[0][-2], rows[0][-1]) if rows else None

    def list_runs(self, limit: int = 100, status: str | None = None, *, offset: int = 0) -> list[RunRecord]:
        """Newest first, without histories (history == {}), state dicts or time-lapses; get(key) has them."""
        self._recover_now_and_then()
        where, args = (" WHERE status=?", (status,)) if status else ("", ())
        with self._lock:
            rows = self._q(f"SELECT {self._LIST_COLUMNS} FROM runs{where} ORDER BY updated_at DESC, key "
                           "LIMIT ? OFFSET ?", (*args, limit, offset))
        return [self._record(r) for r in rows]

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        """One statement of portable SQL ('?' placeholders) under the store's lock: the rows it returns.
        For the tables beside runs (challenge.py's leaderboard)."""
        with self._lock:
            return self._q(sql, args)

    def count_runs(self, status: str | None = None) -> int:
        """How many runs list_runs can page through."""
        where, args = (" WHERE status=?", (status,)) if status else ("", ())
        with self._lock:
            return self._q(f"SELECT COUNT(*) FROM runs{where}", args)[0][0]

