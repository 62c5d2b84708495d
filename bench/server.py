"""A real server (`python -m nonlin_core ui`, the `nonlin ui` command) on a free loopback port, in its own process
group, for the load tests and the crash test (tests import it through tests/support; bench never imports tests)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """start() / kill() / stop(); the server's output goes to `log` (appended, so restarts add to it)."""

    def __init__(self, store: Path | str, log: Path, *, port: int | None = None, env: dict[str, str] | None = None):
        """store: an SQLite file, or a store URL (postgresql://…) that several servers share."""
        self.store = store if isinstance(store, str) and "://" in store else Path(store)
        self.log, self.port = Path(log), port or free_port()
        self.env = {**os.environ, "NONLIN_STORE": str(self.store), "OMP_NUM_THREADS": "1", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self, timeout: float = 60) -> StreamlitServer:
        """Start and wait until /_stcore/health answers 'ok'; RuntimeError (naming the log) otherwise."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as out:                      # the child keeps its own copy of the descriptor
            out.write(f"\n==== start {time.strftime('%H:%M:%S')} port {self.port}\n")
            out.flush()
            self.proc = subprocess.Popen(      # `ui` execs streamlit: proc.pid is the server itself
                [sys.executable, "-m", "nonlin_core", "ui", "--address", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server was not healthy within {timeout:.0f} s; see {self.log}")
            time.sleep(0.1)                                   # polling the health endpoint
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                return resp.read().decode().strip() == "ok"
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the streamlit process itself (no clean-up of any kind) and reap it: a zombie still
        answers kill(pid, 0), and the store would take its rows for a live process's."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 15 s; safe to call twice (finalizers)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
        self.proc = None

    def rss_kb(self) -> int:
        """VmRSS of the server process in kB (0 when it is gone)."""
        try:
            with open(f"/proc/{self.pid}/status") as fh:
                return next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except (OSError, AssertionError):
            return 0
