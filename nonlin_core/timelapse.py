"""Time-lapse of a run: the decision grid at a frame schedule dense where a model changes fast (every early
epoch, then geometrically spaced), quantised to uint8 so a run's frames stay small enough to store and send."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

FRAMES = 120          # frames of a long run; a run of fewer epochs records every one


def frame_epochs(epochs: int, frames: int = FRAMES) -> list[int]:
    """Epochs to record, ascending: 0 (untrained), every early epoch, then geometric spacing up to `epochs`;
    every epoch 0..epochs when that is at most `frames` of them, else exactly `frames`."""
    if epochs + 1 <= frames:
        return list(range(epochs + 1))
    n = frames
    while True:   # rounding merges the dense early end of the geometric series into every epoch: add points
        out = np.unique(np.round(np.geomspace(1, epochs, n)).astype(np.int64))
        if len(out) + 1 >= frames:
            return [0, *(int(e) for e in out[:frames - 2]), epochs]
        n += frames - 1 - len(out)


def quantise(probs: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] -> uint8 0..255 (NaN of a diverged member -> 128)."""
    return np.round(np.nan_to_num(probs, nan=0.5) * 255).clip(0, 255).astype(np.uint8)


@dataclass
class Timelapse:
    """Recorded frames of K members: frames[k, i] is the grid after epochs[i] epochs."""
    epochs: list[int]
    frames: np.ndarray        # (K, len(epochs), C, G, G) uint8; C = 1 (bce: P(class 1)) or the number of classes

    @property
    def resolution(self) -> int:
        return int(self.frames.shape[-1])

    def probabilities(self, index: int) -> np.ndarray:
        """Frame `index` as class probabilities (K, classes, G, G) float32, like Snapshot.grid."""
        p = self.frames[:, index].astype(np.float32) / 255
        return np.concatenate([1 - p, p], 1) if p.shape[1] == 1 else p

    def member(self, k: int) -> Timelapse:
        return Timelapse(list(self.epochs), self.frames[k:k + 1])

    def to_bytes(self) -> bytes:
        """Compressed .npz (epochs, frames); from_bytes reads it back."""
        buf = io.BytesIO()
        np.savez_compressed(buf, epochs=np.asarray(self.epochs, dtype=np.int64), frames=self.frames)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Timelapse:
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return cls([int(e) for e in z["epochs"]], z["frames"])

    @classmethod
    def stack(cls, parts: list[Timelapse | None]) -> Timelapse | None:
        """Members' time-lapses side by side (K = len(parts)); None unless all share epochs and shape."""
        if not parts or any(p is None for p in parts):
            return None
        if any(p.epochs != parts[0].epochs or p.frames.shape[1:] != parts[0].frames.shape[1:] for p in parts):
            return None
        return cls(list(parts[0].epochs), np.concatenate([p.frames for p in parts]))


class Recorder:
    """Fills a preallocated (K, frames, C, G, G) buffer; `so_far()` is a view of the recorded prefix."""

    def __init__(self, epochs: int, K: int, channels: int, resolution: int):
        self.schedule = frame_epochs(epochs)
        self.due = set(self.schedule)
        self.buf = np.zeros((K, len(self.schedule) + 1, channels, resolution, resolution), dtype=np.uint8)
        self.epochs: list[int] = []

    def wants(self, epoch: int) -> bool:
        return epoch in self.due and (not self.epochs or self.epochs[-1] != epoch)

    def add(self, epoch: int, frame: np.ndarray) -> None:
        """frame (K, C, G, G) after `epoch` epochs: uint8 as quantise() makes it, or probabilities in [0, 1]."""
        self.buf[:, len(self.epochs)] = frame if frame.dtype == np.uint8 else quantise(frame)
        self.epochs.append(epoch)

    def so_far(self) -> Timelapse:
        return Timelapse(list(self.epochs), self.buf[:, :len(self.epochs)])
