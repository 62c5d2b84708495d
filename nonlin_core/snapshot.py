"""Snapshot: the state of a (batched) run that training yields, and the metrics its history holds."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .timelapse import Timelapse

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")


@dataclass
class Snapshot:
    """State of a (batched) run after `epoch` epochs; arrays have K (members) first."""
    epoch: int
    epochs: int
    history: dict[str, np.ndarray]            # METRICS -> (K, epoch)
    status: list[str]                         # per member: running, paused, done, diverged, cancelled
    messages: list[str]
    grid: np.ndarray | None = None            # (K, classes, G, G) class probabilities
    final: list[dict | None] | None = None    # per member, once the run has ended
    state_dicts: list[dict] | None = None     # per member, once the run has ended
    seconds: float = 0.0
    device: str = "cpu"
    timelapse: Timelapse | None = None        # frames recorded so far (all of them in the final snapshot)
    params: np.ndarray | None = None          # (1, P) float32 flat parameters now (single runs drawn with a grid)
    grad_norm: np.ndarray | None = None       # (K, epoch, layers) weight-gradient norm per layer, every epoch
    saturated: np.ndarray | None = None       # (K, hidden layers) share of unit-samples saturated (NaN: cannot)
    dead: np.ndarray | None = None            # (K, hidden layers) share of units outputting 0 on all train data

    @property
    def done(self) -> bool:
        return self.final is not None

    def member(self, k: int) -> Snapshot:
        """Member k alone, as a K = 1 snapshot."""
        return self.members(k, k + 1)

    def members(self, start: int, stop: int) -> Snapshot:
        """Members start..stop-1 alone, as a snapshot of stop - start members."""
        def pick(x):
            return None if x is None else x[start:stop]
        timelapse = None if self.timelapse is None else self.timelapse.members(start, stop)
        return dataclasses.replace(self, history={m: v[start:stop] for m, v in self.history.items()},
                                   status=self.status[start:stop], messages=self.messages[start:stop],
                                   grid=pick(self.grid), final=pick(self.final), state_dicts=pick(self.state_dicts),
                                   timelapse=timelapse, params=pick(self.params), grad_norm=pick(self.grad_norm),
                                   saturated=pick(self.saturated), dead=pick(self.dead))


def padded_history(histories: list[dict[str, list[float]]]) -> dict[str, np.ndarray]:
    """Per-member histories of unequal length (a diverged one stops early) -> METRICS -> (K, longest), NaN-padded."""
    n = max((len(h.get(METRICS[0], [])) for h in histories), default=0)
    return {m: np.array([list(h.get(m, [])) + [np.nan] * (n - len(h.get(m, []))) for h in histories],
                        dtype=np.float64).reshape(len(histories), n) for m in METRICS}
