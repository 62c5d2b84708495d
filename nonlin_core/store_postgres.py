"""The PostgreSQL run store (NONLIN_STORE=postgresql://USER[:PASSWORD]@HOST:PORT/DB, psycopg 3): one database
shared by every server of a class. Schema upgrades take an advisory lock, so replicas starting together
migrate once."""
from __future__ import annotations

from contextlib import contextmanager

from .store import StoreError, redact
from .store_sql import LEADERBOARD, Migration, SQLRunStore

MIGRATION_LOCK = 0x6E6F6E6C                 # pg_advisory_xact_lock key: "nonl"

MIGRATIONS = (
    Migration(1, "runs", ("""CREATE TABLE IF NOT EXISTS runs (
        key TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
        history TEXT NOT NULL DEFAULT '{}', final TEXT, state_dict BYTEA, device TEXT NOT NULL DEFAULT '',
        seconds DOUBLE PRECISION NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)""",)),
    Migration(2, "time-lapse of each run", ("ALTER TABLE runs ADD COLUMN IF NOT EXISTS timelapse BYTEA",)),
    Migration(3, "runs by time", ("CREATE INDEX IF NOT EXISTS runs_updated ON runs(updated_at)",)),
    LEADERBOARD,
)


class PostgresStore(SQLRunStore):
    """Thread-safe PostgreSQL run store: one autocommit connection guarded by a lock, reopened once when
    the server dropped it."""

    PLACEHOLDER = "%s"
    MIGRATIONS = MIGRATIONS

    def __init__(self, url: str):
        self.url = url
        super().__init__()

    def _connect(self) -> list[int]:
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError("PostgreSQL needs psycopg: pip install 'psycopg[binary]'") from exc
        self._errors = psycopg
        try:
            self._db = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {redact(self.url)}: {_first_line(exc)}") from None
        return self._migrate()

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            cur = self._db.execute(sql, args)
        except self._errors.OperationalError:
            if not self._db.closed:
                raise
            self._db = self._errors.connect(self.url, autocommit=True, connect_timeout=10)   # the server restarted
            cur = self._db.execute(sql, args)
        return cur.fetchall() if cur.description else []

    @contextmanager
    def _transaction(self):
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            yield

    def _found_version(self) -> int:
        return 0                                   # PostgreSQL stores always had schema_version

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
