"""Where a job trains, behind one interface: `threads` (in this process), `processes` (local worker processes,
started and warmed at once, snapshots streamed back over a pipe) and `ray` (actors on a Ray cluster, ray_executor.py).
NONLIN_EXECUTOR chooses; the job manager keeps the queue, the store and the handles, the executor only trains."""
from __future__ import annotations

import dataclasses
import os
import pickle
import queue
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

from .config import ConfigError, RunConfig
from .control import RunControl
from .errors import DataError
from .snapshot import Snapshot

DEFAULT_EXECUTOR = "threads"
ROOT = Path(__file__).resolve().parents[1]            # the folder holding nonlin_core (a checkout or site-packages)


@dataclass(frozen=True)
class TrainSpec:
    """How a job trains, apart from its configs (Trainer.steps' options)."""
    grid: bool = True
    grid_resolution: int = 60
    snapshot_seconds: float = 0.2
    timelapse: bool = True
    pause_seconds: float | None = None
    store_url: str | None = None        # where a remote worker stores the job itself if its server dies (Ray)
    time_limit: float = 0.0             # the job's time limit in s (0: none), kept by a worker that adopts it


class Executor(Protocol):
    name: str
    slots: int          # jobs it trains at once

    def stream(self, configs: list[RunConfig], spec: TrainSpec, control: RunControl) -> Iterator[Snapshot]: ...
    def shutdown(self) -> None: ...


def train_here(configs: list[RunConfig], spec: TrainSpec, control: RunControl) -> Iterator[Snapshot]:
    """Trainer(configs).steps(...) in this thread (every executor ends up here, in some process)."""
    from .training import Trainer
    yield from Trainer(configs).steps(grid=spec.grid, grid_resolution=spec.grid_resolution, timelapse=spec.timelapse,
                                      snapshot_seconds=spec.snapshot_seconds, control=control,
                                      pause_seconds=spec.pause_seconds)


def warm_up() -> None:
    """Pay torch's lazy imports and first kernels now (at start-up), not on the first job."""
    from .training import Trainer
    from .tuning import configure_process
    configure_process()
    for loss, n_classes, dataset in (("bce", 2, "moons"), ("ce", 3, "blobs")):
        config = RunConfig(dataset=dataset, n_classes=n_classes, loss=loss, n_samples=60, epochs=2, batch_size=16,
                           device="cpu")
        for _ in Trainer(config).steps(grid=True, grid_resolution=8, timelapse=True):
            pass


class ThreadExecutor:
    """Today's: the job trains in the manager's worker thread, in this process (one GIL with the web server)."""
    name = "threads"

    def __init__(self, slots: int = 2):
        self.slots = slots

    def stream(self, configs: list[RunConfig], spec: TrainSpec, control: RunControl) -> Iterator[Snapshot]:
        return train_here(configs, spec, control)

    def shutdown(self) -> None:
        pass


def for_the_wire(snap: Snapshot) -> Snapshot:
    """A snapshot to send to the manager from another process: a running one without its time-lapse (pages play
    it only once a run is paused or finished; its frames so far are most of a snapshot's bytes)."""
    if snap.done or "paused" in snap.status or snap.timelapse is None:
        return snap
    return dataclasses.replace(snap, timelapse=None)


class NewFrames:
    """A worker's running snapshots over a pipe carry only the time-lapse frames recorded since the last one
    (Watchable pace draws them while the run trains); `join` on the manager's side puts them back together.
    A finished or paused snapshot, or one after a reset (fewer frames than sent), carries them all."""

    def __init__(self):
        self.sent, self.frames = 0, None        # worker side: frames sent; manager side: the frames so far

    def split(self, snap: Snapshot) -> tuple[Snapshot, bool]:
        """(the snapshot to send, whether its time-lapse is only the new frames)."""
        tl = snap.timelapse
        if tl is None or snap.done or "paused" in snap.status or len(tl.epochs) < self.sent:
            self.sent = 0 if tl is None else len(tl.epochs)
            return snap, False
        part = tl.since(self.sent)                  # parameters at those frames too, when recorded
        self.sent = len(tl.epochs)
        return dataclasses.replace(snap, timelapse=part), True

    def join(self, snap: Snapshot, partial: bool) -> Snapshot:
        tl = snap.timelapse
        if not partial or self.frames is None or tl is None:
            self.frames = tl
            return snap
        self.frames = self.frames.extended(tl)
        return dataclasses.replace(snap, timelapse=self.frames)


def remote_error(exc: BaseException) -> Exception:
    """An exception raised while training elsewhere, as the manager reports it: data and config errors as they
    are, anything else as an internal error (with its type in the message)."""
    if isinstance(exc, DataError | ConfigError):
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def _worker_main(conn) -> None:
    """A worker process: warm up, then train the jobs sent down `conn`, sending back every snapshot; a reader thread
    applies control calls (pause, step, ...) to the job in progress."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warm_up()
    jobs: queue.Queue = queue.Queue()
    current: list[RunControl | None] = [None]

    def reader() -> None:
        while True:
            try:
                msg = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                msg = ("stop",)
            if msg[0] == "job":
                control = RunControl()
                control.restore(msg[3])
                current[0] = control
                jobs.put((msg[1], msg[2], control))
            elif msg[0] == "control" and current[0] is not None:
                getattr(current[0], msg[1])(*msg[2])
            elif msg[0] == "stop":
                jobs.put(None)
                return

    threading.Thread(target=reader, daemon=True, name="nonlin-control").start()
    conn.send_bytes(pickle.dumps(("ready",)))
    while (job := jobs.get()) is not None:
        try:
            frames = NewFrames()
            for snap in train_here(*job):
                conn.send_bytes(pickle.dumps(("snap", *frames.split(snap))))
        except Exception as exc:  # noqa: BLE001 - reported to the manager, the worker lives on
            traceback.print_exc()
            conn.send_bytes(pickle.dumps(("error", remote_error(exc))))


class _Worker:
    """One worker process (`python -m nonlin_core.executors FD`: never the server's main module, which under
    Streamlit is the app script) and its end of a socket pair; sends guarded: control calls come from page threads."""

    def __init__(self):
        ours, theirs = socket.socketpair()
        env = {**os.environ, "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "nonlin_core.executors", str(theirs.fileno())],
                                     pass_fds=[theirs.fileno()], env=env, cwd=ROOT)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.lock = threading.Lock()

    def send(self, *msg) -> None:
        with self.lock:
            self.conn.send_bytes(pickle.dumps(msg))

    def recv(self, timeout: float) -> tuple | None:
        """The next message, None after timeout; EOFError when the process is gone."""
        if not self.conn.poll(timeout):
            if self.proc.poll() is not None:
                raise EOFError(f"the worker process exited with {self.proc.returncode}")
            return None
        msg = pickle.loads(self.conn.recv_bytes())
        return self.recv(timeout) if msg[0] == "ready" else msg

    def stop(self) -> None:
        try:
            self.send("stop")
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.conn.close()


class ProcessExecutor:
    """`slots` worker processes, started (and warmed) at once; a dead one is replaced for the next job."""
    name = "processes"

    def __init__(self, slots: int = 2):
        self.slots = slots
        self._free: queue.Queue[_Worker] = queue.Queue()
        self._closed = False
        self.workers = [_Worker() for _ in range(slots)]      # started at once, warming up in parallel
        for worker in self.workers:
            self._free.put(worker)

    def stream(self, configs: list[RunConfig], spec: TrainSpec, control: RunControl) -> Iterator[Snapshot]:
        if self._closed:
            raise RuntimeError("the worker processes were shut down")
        worker = self._free.get()
        relay: Callable[[str, tuple], None] = lambda name, args: worker.send("control", name, args)
        healthy = False
        try:
            worker.send("job", configs, spec, control.attach(relay))
            last_beat, frames = time.monotonic(), NewFrames()
            while True:
                msg = worker.recv(min(control.heartbeat_seconds, 1.0))
                if time.monotonic() - last_beat >= control.heartbeat_seconds and control.heartbeat is not None:
                    control.heartbeat()          # paused over there: the store must still see this job alive
                    last_beat = time.monotonic()
                if msg is None:
                    continue
                if msg[0] == "error":
                    healthy = True
                    raise msg[1]
                snap = frames.join(msg[1], msg[2])
                yield snap
                if snap.done:
                    healthy = True
                    return
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the training process died ({exc})") from None
        finally:
            control.detach(relay)
            if not healthy:                      # died, or the consumer left mid-job: a fresh process next time
                worker.stop()
                self.workers.remove(worker)
                worker = _Worker()
                self.workers.append(worker)
            self._free.put(worker)

    def shutdown(self) -> None:
        """Stop the idle workers (the manager has ended every job first)."""
        self._closed = True
        while True:
            try:
                self._free.get_nowait().stop()
            except queue.Empty:
                return


def _ray_executor(slots: int) -> Executor:
    from .ray_executor import RayExecutor
    return RayExecutor(slots)


EXECUTORS: dict[str, Callable[[int], Executor]] = {
    "threads": ThreadExecutor,
    "processes": ProcessExecutor,
    "ray": _ray_executor,
}


def executor_name() -> str:
    """NONLIN_EXECUTOR (default threads); ConfigError naming the choices for any other value."""
    name = os.environ.get("NONLIN_EXECUTOR", "").strip() or DEFAULT_EXECUTOR
    if name not in EXECUTORS:
        raise ConfigError(f"env NONLIN_EXECUTOR={name!r} is not an executor; choose one of {', '.join(EXECUTORS)}")
    return name


def workers_from_env() -> int:
    """NONLIN_WORKERS: jobs training at once (default 2); ConfigError unless a whole number >= 1."""
    raw = os.environ.get("NONLIN_WORKERS", "").strip() or "2"
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"env NONLIN_WORKERS={raw!r} must be a whole number >= 1")
    return int(raw)


def executor_from_env(slots: int) -> Executor:
    """The executor NONLIN_EXECUTOR names, with `slots` workers."""
    return EXECUTORS[executor_name()](slots)


if __name__ == "__main__":                  # a worker process of ProcessExecutor: its socket's descriptor
    _worker_main(Connection(int(sys.argv[1])))
