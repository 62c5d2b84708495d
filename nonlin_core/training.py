"""Training as a generator of Snapshots: Trainer, train_steps and train, the public face of the engine
(engine.py: the batched closed-form loop; optim.py: torch.optim on its flat buffer; snapshot.py;
tuning.py: process settings). Results equal the textbook nn.Sequential + autograd + torch.optim +
DataLoader loop (tests/test_core_training.py)."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import torch

from . import datasets
from .config import FIELDS, ConfigError, RunConfig, fields_with_role
from .control import RunControl
from .engine import BatchRun
from .snapshot import METRICS, Snapshot
from .tuning import configure_process

__all__ = ["METRICS", "PER_MEMBER", "RunControl", "Snapshot", "Trainer", "batch_key", "check_batch", "pick_device", "train",
           "train_steps"]

PER_MEMBER = fields_with_role("member")  # may differ inside one batch
_NEUTRAL = RunConfig()


DEVICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str = "auto") -> torch.device:
    """The config's device; auto: env NONLIN_DEVICE if set (the server's policy), else cuda if available,
    then mps, then cpu."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if name == "auto":
        name = os.environ.get("NONLIN_DEVICE", "").strip() or "auto"
        if name not in DEVICES:
            raise ConfigError(f"env NONLIN_DEVICE={name!r} must be one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for but no CUDA GPU is available")
    if name == "mps" and not has_mps:
        raise ConfigError("device: mps was asked for but is not available")
    return torch.device(name)


def batch_key(config: RunConfig) -> RunConfig:
    """The config with per-member fields neutralised: equal batch keys can train together."""
    return config.replace(**{name: getattr(_NEUTRAL, name) for name in PER_MEMBER})


def check_batch(configs: list[RunConfig]) -> None:
    """Raise ConfigError unless the configs can train as one batch."""
    if not configs:
        raise ConfigError("no configs to train")
    for c in configs[1:]:
        if batch_key(c) != batch_key(configs[0]):
            diff = [f.name for f in FIELDS if getattr(c, f.name) != getattr(configs[0], f.name) and f.name not in PER_MEMBER]
            raise ConfigError(f"batched configs may differ only in {', '.join(PER_MEMBER)}, not in {', '.join(diff)}")


class Trainer:
    """Trains one or more configs that share data, shape and schedule (they differ in PER_MEMBER)."""

    def __init__(self, configs: list[RunConfig] | RunConfig, dataset: datasets.Dataset | None = None):
        self.configs = [configs] if isinstance(configs, RunConfig) else list(configs)
        check_batch(self.configs)
        c0 = self.configs[0]
        self.data = dataset or datasets.load(c0)
        self.device = pick_device(c0.device)
        self.dtype = torch.float64 if c0.dtype == "float64" else torch.float32
        if self.device.type == "mps" and self.dtype == torch.float64:
            raise ConfigError("dtype: mps has no float64; use float32")
        configure_process(freeze_gc=False)   # a no-op once the app or the CLI has set the process up

    def steps(self, *, snapshot_seconds: float = 0.25, snapshot_every: int = 0, grid: bool = False,
              grid_resolution: int = 60, cancel: threading.Event | None = None, timelapse: bool = False,
              control: RunControl | None = None, pause_seconds: float | None = None) -> Iterator[Snapshot]:
        """Train; yield a Snapshot every snapshot_seconds (and every snapshot_every epochs, if set) and a
        last one with final metrics and state dicts. Every epoch's metrics are recorded; with timelapse, the
        grid at timelapse.frame_epochs too. A control (its cancel event replaces `cancel`) pauses, steps and
        resets the run; paused, it yields a snapshot (members "paused") and blocks, and after pause_seconds
        paused (None: never) the run ends with its members "paused"."""
        with torch.no_grad():
            yield from BatchRun(self.configs, self.data, self.device, self.dtype, snapshot_seconds=snapshot_seconds,
                                snapshot_every=snapshot_every, grid=grid, grid_resolution=grid_resolution,
                                cancel=cancel, timelapse=timelapse, control=control,
                                pause_seconds=pause_seconds).run()


def train_steps(config: RunConfig, **kwargs) -> Iterator[Snapshot]:
    """Single run: Trainer(config).steps(**kwargs)."""
    return Trainer(config).steps(**kwargs)


def train(config: RunConfig, **kwargs) -> Snapshot:
    """Train to the end; the final Snapshot."""
    snap = None
    for snap in train_steps(config, **kwargs):
        pass
    return snap
