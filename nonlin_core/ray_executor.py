"""The `ray` executor: one Ray actor per worker slot on the cluster at RAY_ADDRESS (or a local one started with
this process when unset), warmed when created. A job trains inside its actor; the manager polls the actor for the
newest snapshot and relays pause, step, reset and cancel to it. The actors outlive their server (detached): when
the server dies (its `_Owner` actor dies with it) an actor that is training adopts the job — trains it to the end
and stores it (adoption.py) — then exits, as an idle one does at once. Needs the `ray` extra (pip install
'nonlin[ray]')."""
from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .adoption import Adoption
from .config import ConfigError, RunConfig
from .control import RunControl
from .executors import TrainSpec, for_the_wire, remote_error, train_here, warm_up
from .snapshot import Snapshot

POLL_SECONDS = 1.0          # a poll waits at most this long for a newer snapshot
READY_SECONDS = 180.0       # the workers must be up and warm within this (they are placed only on a free CPU)
OWNER_SECONDS = 1.0         # how often an actor checks that its server is alive
ROOT = Path(__file__).resolve().parents[1]


class _Owner:
    """Lives as long as the server that made it (a Ray actor shares its creator's fate): alive() fails after."""

    def alive(self) -> bool:
        return True


class TrainingActor:
    """Trains one job at a time (a threaded actor: poll and control calls run beside train)."""

    def __init__(self, owner=None):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        warm_up()
        self._cond = threading.Condition()
        self._control: RunControl | None = None
        self._snap: Snapshot | None = None
        self._job, self._count, self._error, self._over = -1, 0, None, True
        self._orphaned = False
        if owner is not None:
            threading.Thread(target=self._watch, args=(owner,), daemon=True).start()

    def ready(self) -> bool:
        return True

    def train(self, job: int, configs: list[RunConfig], spec: TrainSpec, state: dict) -> None:
        control = RunControl()
        control.restore(state)
        with self._cond:
            self._control, self._snap, self._count, self._error, self._over = control, None, 0, None, False
            self._job = job
            self._cond.notify_all()
        adoption, last, error = None, None, ""
        try:
            for snap in train_here(configs, spec, control):
                last = snap
                if self._orphaned and adoption is None and spec.store_url:
                    adoption = Adoption(configs, spec.store_url, spec.time_limit)
                if adoption is not None:
                    adoption.step(control)
                with self._cond:
                    self._snap, self._count = for_the_wire(snap), self._count + 1
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - reported through poll(), the actor lives on
            error = str(exc)
            with self._cond:
                self._error = remote_error(exc)
        finally:
            with self._cond:
                orphaned = self._orphaned               # else _over tells the watcher: nothing to store here
                self._over = not orphaned
                self._cond.notify_all()
        if orphaned:                                    # the server died: store what it would have, then go
            if spec.store_url:
                (adoption or Adoption(configs, spec.store_url, spec.time_limit)).finish(configs, last, error)
            os._exit(0)

    def _watch(self, owner) -> None:
        """Wait for the server's death; then an idle actor exits, and a training one finishes its job (train())."""
        ray = _ray()
        while True:
            time.sleep(OWNER_SECONDS)                   # a liveness check, not a wait for a result
            try:
                ray.get(owner.alive.remote(), timeout=60)
            except ray.exceptions.GetTimeoutError:     # a busy cluster is no proof of death
                continue
            except ray.exceptions.RayError:
                break
        with self._cond:
            self._orphaned = True
            idle, control = self._over, self._control
        if idle:
            os._exit(0)
        control.resume()                                # nobody is left to resume a paused run

    def poll(self, job: int, seen: int) -> tuple[int, Snapshot | None, Exception | None, bool]:
        """Of job `job`: (count, newest snapshot if newer than `seen`, error, over) after at most POLL_SECONDS
        (calls of a threaded actor may overtake each other: a poll may come before its job's train)."""
        with self._cond:
            self._cond.wait_for(lambda: self._job == job and (self._count > seen or self._over), POLL_SECONDS)
            if self._job != job:
                return seen, None, None, False
            return self._count, self._snap if self._count > seen else None, self._error, self._over

    def control(self, name: str, args: tuple) -> None:
        if self._control is not None:
            getattr(self._control, name)(*args)


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("NONLIN_EXECUTOR=ray needs Ray: pip install 'nonlin[ray]'") from None
    return ray


class RayExecutor:
    """`slots` actors (one CPU each) on the Ray cluster at RAY_ADDRESS; "local" (no RAY_ADDRESS) starts one here."""
    name = "ray"

    def __init__(self, slots: int = 2):
        ray = _ray()
        self.slots = slots
        self._connected = not ray.is_initialized()           # this executor connects the driver, and disconnects it
        if self._connected:
            address = os.environ.get("RAY_ADDRESS", "").strip() or "local"
            env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
            try:
                ray.init(address=address, runtime_env={"env_vars": env}, log_to_driver=False,
                         include_dashboard=False if address == "local" else None, logging_level="WARNING")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"Ray: cannot connect to the cluster at RAY_ADDRESS={address!r} ({exc})") from None
        self._owner = ray.remote(num_cpus=0)(_Owner).remote()
        actor = ray.remote(num_cpus=1, max_concurrency=4)(TrainingActor).options(lifetime="detached")
        self._actors = [actor.remote(self._owner) for _ in range(slots)]
        try:                                                   # warm now, not on the first click
            ray.get([a.ready.remote() for a in self._actors], timeout=READY_SECONDS)
        except ray.exceptions.GetTimeoutError:
            self.shutdown()
            free = ray.available_resources().get("CPU", 0)
            raise ConfigError(f"Ray: {slots} workers (one CPU each) did not start within {READY_SECONDS:g} s; the "
                              f"cluster has {free:g} CPUs free (NONLIN_WORKERS sets the number of workers)") from None
        self._jobs = itertools.count()
        self._free: queue.Queue = queue.Queue()
        for a in self._actors:
            self._free.put(a)

    def stream(self, configs: list[RunConfig], spec: TrainSpec, control: RunControl) -> Iterator[Snapshot]:
        ray = _ray()
        actor = self._free.get()
        relay = lambda name, args: actor.control.remote(name, args)   # noqa: E731
        job = next(self._jobs)
        try:
            actor.train.remote(job, configs, spec, control.attach(relay))
            seen, last_beat = 0, time.monotonic()
            while True:
                try:
                    seen, snap, error, over = ray.get(actor.poll.remote(job, seen))
                except ray.exceptions.RayError as exc:
                    raise RuntimeError(f"the Ray worker failed ({type(exc).__name__})") from None
                if snap is not None:
                    yield snap
                    if snap.done:
                        return
                if error is not None:
                    raise error
                if over:
                    raise RuntimeError("the Ray worker ended the job without a result")
                if control.heartbeat is not None and time.monotonic() - last_beat >= control.heartbeat_seconds:
                    control.heartbeat()         # paused over there: the store must still see this job alive
                    last_beat = time.monotonic()
        finally:
            control.detach(relay)
            self._free.put(actor)

    def shutdown(self) -> None:
        ray = _ray()
        if not ray.is_initialized():            # already disconnected: its actors went with the driver
            return
        for actor in [*self._actors, self._owner]:
            ray.kill(actor)
        self._actors = []
        if self._connected:     # stops the driver's threads that print the raylet's notices (to stdout) later
            ray.shutdown()
