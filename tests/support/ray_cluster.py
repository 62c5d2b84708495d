"""A real local Ray cluster on 127.0.0.1, started the way a user starts one (`ray start --head`), on fixed ports,
in its own process group and temporary folder (its HOME too: a ~/.ray/auth_token left by another cluster would
turn on token authentication), and stopped (that group only) afterwards."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RAY = Path(sys.executable).parent / "ray"


def ports(gcs: int, base: int) -> list[str]:
    """The flags pinning every port the head node opens: GCS on `gcs`, the rest from `base` up."""
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
             "metrics-export-port", "runtime-env-agent-port")
    flags = [f"--port={gcs}"] + [f"--{n}={base + i}" for i, n in enumerate(names)]
    return flags + [f"--min-worker-port={base + 100}", f"--max-worker-port={base + 199}"]


@contextmanager
def ray_cluster(gcs: int = 6390, base: int = 20600, cpus: int = 2, timeout: float = 180) -> Iterator[str]:
    """Yield the cluster's address (127.0.0.1:gcs) once it is up; stop it (SIGTERM, then SIGKILL) afterwards."""
    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))     # short: Ray's socket paths must stay short
    log = temp / "start.log"
    cmd = [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
           "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}", *ports(gcs, base)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HOME": str(temp)})
    try:
        deadline = time.monotonic() + timeout
        while "Ray runtime started" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start failed: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)                                  # polling ray start's log
        yield f"127.0.0.1:{gcs}"
    finally:
        _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=45)                                # Ray drains for up to 30 s
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
