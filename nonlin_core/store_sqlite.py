"""The SQLite run store: one file in the data dir, WAL journal. A file that is not a readable database is
moved aside (never deleted) and a fresh store starts in its place; a file made by an older version is
upgraded in place by the migrations below."""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from .store_sql import LEADERBOARD, Migration, SQLRunStore

UNREADABLE = ("SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_CANTOPEN", "SQLITE_PERM")   # moved aside, then a fresh store
log = logging.getLogger("nonlin")

MIGRATIONS = (
    Migration(1, "runs", ("""CREATE TABLE IF NOT EXISTS runs (
        key TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
        history TEXT NOT NULL DEFAULT '{}', final TEXT, state_dict BLOB, device TEXT NOT NULL DEFAULT '',
        seconds REAL NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL, updated_at REAL NOT NULL)""",)),
    Migration(2, "time-lapse of each run", ("ALTER TABLE runs ADD COLUMN timelapse BLOB",)),
    Migration(3, "runs by time", ("CREATE INDEX IF NOT EXISTS runs_updated ON runs(updated_at)",)),
    LEADERBOARD,
)


class SQLiteStore(SQLRunStore):
    """Thread-safe SQLite run store; one connection guarded by a lock, WAL journal."""

    MIGRATIONS = MIGRATIONS

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__()

    def _connect(self) -> list[int]:
        problem = _unreadable(self.path)         # checked before SQLite touches the file or its -wal
        if problem is None:
            try:
                return self._open()
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorname", "") not in UNREADABLE:
                    raise                                     # e.g. busy or locked: the file is fine
                problem = str(exc)
        self.moved_aside = _move_aside(self.path)            # where a corrupt store file was moved
        log.warning("run store %s could not be read (%s): moved it to %s and started a fresh store",
                    self.path, problem, self.moved_aside.name)
        return self._open()

    def _open(self) -> list[int]:
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            return self._migrate()
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._db.execute(sql, args).fetchall()

    @contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _found_version(self) -> int:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        return 0 if not columns else 2 if "timelapse" in columns else 1

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
