"""A finished job rebuilt from the run store: what a page shows for a run it did not watch train."""
from __future__ import annotations

import numpy as np

from . import datasets
from .flow import restored
from .grid import decision_grid
from .models import load_mlp
from .snapshot import Snapshot, padded_history
from .store import RunRecord
from .timelapse import Timelapse


def snapshot_from_records(records: list[RunRecord], grid_resolution: int = 60) -> Snapshot:
    """A final Snapshot rebuilt from stored runs: history, finals, state dicts, time-lapse (None unless every
    member has one) and a fresh grid."""
    c0 = records[0].config
    data = datasets.load(c0)
    hist = padded_history([r.history for r in records])   # a diverged member's history is shorter
    grids = [decision_grid(load_mlp(r.config, data.n_features, data.n_classes, r.state_dict), data,
                           loss=r.config.loss, resolution=grid_resolution)[1] for r in records]
    epochs_done = hist["train_loss"].shape[1]
    return Snapshot(epochs_done, c0.epochs, hist, [r.status for r in records], [r.message for r in records],
                    np.stack(grids), [r.final for r in records], [r.state_dict for r in records],
                    seconds=sum(r.seconds for r in records), device=records[0].device,
                    timelapse=Timelapse.stack([r.timelapse for r in records]),
                    **restored([r.history for r in records], epochs_done))
