"""Run store: the interface every backend keeps, the record it stores, and NONLIN_STORE -> a backend.
Backends (a registry by URL scheme): SQLite, a file in the data dir (the default), and PostgreSQL
(`postgresql://…`, shared by several servers). Rows left 'running' by a dead process are marked
'interrupted': a process's rows carry its host id, pid and a token, and are touched while they train (a lease)."""
from __future__ import annotations

import hashlib
import os
import re
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import RunConfig
from .timelapse import Timelapse

PROCESS_TOKEN = uuid.uuid4().hex          # one per process: tells this process's rows from others'
FINISHED = ("done", "diverged")           # served from the store without training
STALE_SECONDS = 120.0                     # default lease: a running row not touched for this long is dead
INTERRUPTED_MESSAGE = "the server stopped while this run was training; run it again"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class StoreError(Exception):
    """The run store cannot be used (unreachable server, refused login): one line for the user."""


class StoreConfigError(StoreError, ValueError):
    """NONLIN_STORE names no store this program can open (a usage error)."""


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
    def execute(self, sql: str, args: tuple = ()) -> list[tuple]: ...
    def recover(self) -> int: ...
    def close(self) -> None: ...


def history_lists(history: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """One member's history arrays -> JSON-safe lists (NaN tail of a diverged run dropped)."""
    out = {m: [float(x) for x in np.asarray(v).ravel()] for m, v in history.items()}
    n = min((next((i for i, x in enumerate(v) if x != x), len(v)) for v in out.values()), default=0)
    out = {m: v[:n] for m, v in out.items()}
    out["epoch"] = list(range(1, n + 1))
    return out


def _pid_space() -> str:
    """Where pids of this process can be compared: hostname + boot + pid namespace (two containers on one
    host share the boot id but not the pid namespace; two replicas may even share a hostname)."""
    parts = [socket.gethostname()]
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(Path(path).read_text().strip() if "boot" in path else str(os.stat(path).st_ino))
        except OSError:
            parts.append("")
    return f"{parts[0]}~{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:10]}".replace(":", "_")


HOST_ID = _pid_space()


def owner_id() -> str:
    """This process as the owner of the rows it trains: host id, pid, token."""
    return f"{HOST_ID}:{os.getpid()}:{PROCESS_TOKEN}"


def lease_seconds() -> float:
    """NONLIN_LEASE_SECONDS (default 120): a running row not touched for this long belongs to a dead process."""
    try:
        value = float(os.environ.get("NONLIN_LEASE_SECONDS") or STALE_SECONDS)
    except ValueError:
        return STALE_SECONDS
    return value if value > 0 else STALE_SECONDS


def heartbeat_seconds() -> float:
    """How often a training process touches its rows: well inside the lease."""
    return min(10.0, lease_seconds() / 4)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_dead(owner: str, updated_at: float, now: float) -> bool:
    """Whether a queued/running row's owner is gone: its lease ran out, or it was a process of this pid space
    that no longer exists. A pid is never checked against another host's."""
    o_host, o_pid, o_token = (owner.split(":") + ["", "", ""])[:3]
    if o_token == PROCESS_TOKEN:
        return False                                  # ours: another store object in this process
    if now - updated_at > lease_seconds():
        return True
    return o_host == HOST_ID and (not o_pid.isdigit() or int(o_pid) == os.getpid() or not _pid_alive(int(o_pid)))


# scheme -> "module:Class"; a path without a scheme is SQLite. Imported on use (psycopg only for PostgreSQL).
BACKENDS = {"sqlite": "store_sqlite:SQLiteStore", "postgresql": "store_postgres:PostgresStore",
            "postgres": "store_postgres:PostgresStore"}


def store_url() -> str:
    """NONLIN_STORE as given, else the path of runs.sqlite3 in the data dir (NONLIN_DATA_DIR)."""
    from .datasets import data_dir
    return os.environ.get("NONLIN_STORE") or str(data_dir() / "runs.sqlite3")


def store_scheme(url: str) -> str:
    """The backend of a store URL ('sqlite' for a plain path); an unknown scheme is refused."""
    match = _SCHEME.match(url)
    if not match:
        return "sqlite"
    scheme = match.group(1).lower()
    if scheme not in BACKENDS:
        raise StoreConfigError(f"NONLIN_STORE={redact(url)}: unknown store scheme {scheme!r}; use a file path "
                               f"(SQLite), sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    return scheme


def redact(url: str) -> str:
    """A store URL fit for a message: its password replaced by ***."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", url)


def open_store(url: str | os.PathLike | None = None) -> RunStore:
    """The run store at url (default: store_url()), by its scheme."""
    import importlib
    url = store_url() if url is None else str(url)
    scheme = store_scheme(url)
    module, cls = BACKENDS[scheme].split(":")
    backend = getattr(importlib.import_module(f".{module}", __package__), cls)
    return backend(url[len("sqlite://"):] if scheme == "sqlite" and url.startswith("sqlite://") else url)


def store_path() -> Path:
    """The SQLite store's file (NONLIN_STORE or runs.sqlite3 in the data dir); for a server store (PostgreSQL),
    runs.sqlite3 in the data dir: only local_dir() of it is used then."""
    url = store_url()
    if store_scheme(url) != "sqlite":
        from .datasets import data_dir
        return data_dir() / "runs.sqlite3"
    return Path(url[len("sqlite://"):] if url.startswith("sqlite://") else url)


def local_dir() -> Path:
    """This server's own folder for files beside the store (uploads): the SQLite file's, else the data dir."""
    return store_path().parent


def default_store() -> RunStore:
    return open_store()


def __getattr__(name: str):
    if name == "SQLiteStore":                         # the default backend, importable from here as before
        from .store_sqlite import SQLiteStore
        return SQLiteStore
    raise AttributeError(name)
