"""A throwaway PostgreSQL cluster on 127.0.0.1 for the store tests: Debian's binaries (pg_config --bindir),
initdb + pg_ctl as an unprivileged user (initdb refuses root: as root they run as `postgres`, else `nobody`),
trust auth, fsync off, its socket in its own folder; removed when stopped."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PORTS = range(5440, 5450)
USER = "nonlin"


def bindir() -> Path | None:
    """Where initdb and pg_ctl are, or None when PostgreSQL is not installed."""
    config = shutil.which("pg_config")
    if config:
        out = subprocess.run([config, "--bindir"], capture_output=True, text=True)
        path = Path(out.stdout.strip())
        if (path / "initdb").exists():
            return path
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1} for PostgreSQL")


def _run_as() -> list[str]:
    """The prefix that runs a command as an unprivileged user (nothing when we are not root)."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"]
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists for initdb")


class PostgresCluster:
    """initdb + pg_ctl start on a free port; url(db) for a database; create_database(); stop()."""

    def __init__(self, bin_dir: Path):
        self.bin, self.port, self.dir = bin_dir, _free_port(), Path(tempfile.mkdtemp(prefix="nonlin-pg-"))
        self.as_user = _run_as()
        if self.as_user:
            user = pwd.getpwnam(self.as_user[2])
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.data, self.count = self.dir / "data", 0
        self._sh([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", USER, "-E", "UTF8",
                  "--no-locale", "--no-sync"])
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c full_page_writes=off"
        self._sh([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60",
                  "-o", options, "start"])

    def _sh(self, argv: list[str]) -> None:
        out = subprocess.run(self.as_user + argv, capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise RuntimeError(f"{' '.join(argv[:1])} failed ({out.returncode}): {out.stderr.strip() or out.stdout}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg
        self.count += 1
        name = name or f"t{self.count}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._sh([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
