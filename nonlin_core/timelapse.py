"""Time-lapse of a run: the decision grid at a frame schedule dense where a model changes fast (every early
epoch, then geometrically spaced), quantised to uint8 so a run's frames stay small enough to store and send."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

FRAMES = 120          # frames of a long run; a run of fewer epochs records every one
TIMELAPSE_MAX_PARAMS = 4096   # a larger model's frames carry no parameters (4096 x 121 frames x 4 B = 2 MB a run)


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
    """Recorded frames of K members: frames[k, i] is the grid after epochs[i] epochs; params[k, i] (when recorded)
    the member's flat parameter vector then (the network diagram plays them)."""
    epochs: list[int]
    frames: np.ndarray        # (K, len(epochs), C, G, G) uint8; C = 1 (bce: P(class 1)) or the number of classes
    params: np.ndarray | None = None   # (K, len(epochs), P) float32, like Snapshot.params; None: not recorded

    @property
    def resolution(self) -> int:
        return int(self.frames.shape[-1])

    def probabilities(self, index: int) -> np.ndarray:
        """Frame `index` as class probabilities (K, classes, G, G) float32, like Snapshot.grid."""
        p = self.frames[:, index].astype(np.float32) / 255
        return np.concatenate([1 - p, p], 1) if p.shape[1] == 1 else p

    def member(self, k: int) -> Timelapse:
        return self.members(k, k + 1)

    def members(self, start: int, stop: int) -> Timelapse:
        """Members start..stop-1 alone."""
        return Timelapse(list(self.epochs), self.frames[start:stop],
                         None if self.params is None else self.params[start:stop])

    def since(self, index: int) -> Timelapse:
        """The frames from `index` on (what a worker sends after the first `index`)."""
        return Timelapse(list(self.epochs[index:]), self.frames[:, index:],
                         None if self.params is None else self.params[:, index:])

    def extended(self, more: Timelapse) -> Timelapse:
        """These frames, then `more`'s (params kept only when both have them)."""
        params = None if self.params is None or more.params is None else np.concatenate([self.params, more.params], 1)
        return Timelapse(self.epochs + list(more.epochs), np.concatenate([self.frames, more.frames], 1), params)

    def to_bytes(self) -> bytes:
        """Compressed .npz (epochs, frames and params when recorded); from_bytes reads it back."""
        buf = io.BytesIO()
        extra = {} if self.params is None else {"params": np.asarray(self.params, dtype=np.float32)}
        np.savez_compressed(buf, epochs=np.asarray(self.epochs, dtype=np.int64), frames=self.frames, **extra)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Timelapse:
        """A time-lapse from to_bytes (one stored before params were recorded has params None)."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            return cls([int(e) for e in z["epochs"]], z["frames"], z["params"] if "params" in z.files else None)

    @classmethod
    def stack(cls, parts: list[Timelapse | None]) -> Timelapse | None:
        """Members' time-lapses side by side (K = len(parts)); None unless all share epochs and shape."""
        if not parts or any(p is None for p in parts):
            return None
        if any(p.epochs != parts[0].epochs or p.frames.shape[1:] != parts[0].frames.shape[1:] for p in parts):
            return None
        same = all(p.params is not None and p.params.shape[1:] == parts[0].params.shape[1:] for p in parts)
        return cls(list(parts[0].epochs), np.concatenate([p.frames for p in parts]),
                   np.concatenate([p.params for p in parts]) if same else None)


class Recorder:
    """Fills preallocated (K, frames, C, G, G) frame and (K, frames, P) parameter buffers; `so_far()` is a view
    of the recorded prefix. n_params 0: no parameters recorded."""

    def __init__(self, epochs: int, K: int, channels: int, resolution: int, n_params: int = 0):
        self.schedule = frame_epochs(epochs)
        self.due = set(self.schedule)
        self.buf = np.zeros((K, len(self.schedule) + 1, channels, resolution, resolution), dtype=np.uint8)
        self.params = np.zeros((K, len(self.schedule) + 1, n_params), dtype=np.float32) if n_params else None
        self.epochs: list[int] = []

    def wants(self, epoch: int) -> bool:
        return epoch in self.due and (not self.epochs or self.epochs[-1] != epoch)

    def add(self, epoch: int, frame: np.ndarray, params: np.ndarray | None = None) -> None:
        """frame (K, C, G, G) after `epoch` epochs: uint8 as quantise() makes it, or probabilities in [0, 1];
        params (K, P) then (kept when the recorder records parameters)."""
        self.buf[:, len(self.epochs)] = frame if frame.dtype == np.uint8 else quantise(frame)
        if self.params is not None and params is not None:
            self.params[:, len(self.epochs)] = params
        self.epochs.append(epoch)

    def so_far(self) -> Timelapse:
        n = len(self.epochs)
        return Timelapse(list(self.epochs), self.buf[:, :n], None if self.params is None else self.params[:, :n])
