"""The time-lapse records each member's parameters at its frame epochs (what the network diagram plays): they are
the parameters of the same run trained to that epoch, they survive bytes, the store, a merged batch's split into
members and the replay of a cached run; a time-lapse stored before parameters were recorded still loads."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from nonlin_core import RunConfig
from nonlin_core.timelapse import TIMELAPSE_MAX_PARAMS, Timelapse, frame_epochs
from nonlin_core.training import Trainer, train
from tests import test_batching
from tests.test_batching import hold_the_worker, release

manager = test_batching.manager           # the fixture: a job manager with a counting executor

CASES = {"full": {"dataset": "circles", "batch_size": 0, "optimizer": "sgd", "momentum": 0.9},
         "mini-batch": {"dataset": "moons", "batch_size": 32, "optimizer": "adam"}}
TIMEOUT = 120


def flat(state_dict: dict) -> np.ndarray:
    """A state dict as the engine's flat parameter vector (parameters_to_vector order), float64."""
    return torch.cat([t.reshape(-1) for t in state_dict.values()]).to(torch.float64).numpy()


@pytest.mark.parametrize("case", CASES)
def test_params_at_each_frame_epoch_are_the_run_trained_to_that_epoch(case):
    config = RunConfig(n_samples=150, noise=0.15, epochs=200, hidden_layers=(6, 4), activation="tanh", lr=0.05,
                       dtype="float64", device="cpu", **CASES[case])
    tl = train(config, timelapse=True, grid_resolution=8).timelapse
    P = sum(t.numel() for t in train(config.replace(epochs=1)).state_dicts[0].values())
    assert tl.epochs == frame_epochs(200) and tl.params.shape == (1, len(tl.epochs), P)
    assert tl.params.dtype == np.float32
    for epoch in (1, 7, tl.epochs[len(tl.epochs) // 2], 200):
        reference = flat(train(config.replace(epochs=epoch)).state_dicts[0])      # float64, trained to `epoch`
        recorded = tl.params[0, tl.epochs.index(epoch)].astype(np.float64)
        # the same numbers, rounded once to float32: every one equal to the reference's rounding
        np.testing.assert_allclose(recorded, reference.astype(np.float32).astype(np.float64), rtol=0, atol=1e-9,
                                   err_msg=f"epoch {epoch}")
    assert not np.allclose(tl.params[0, 0], tl.params[0, -1])                   # it learned


def test_a_model_too_large_records_frames_without_params():
    width = int(TIMELAPSE_MAX_PARAMS ** 0.5) + 1                                   # width² weights alone exceed it
    config = RunConfig(dataset="moons", n_samples=60, epochs=2, hidden_layers=(width, width), device="cpu")
    tl = train(config, timelapse=True, grid_resolution=6).timelapse
    assert tl.epochs == [0, 1, 2] and tl.params is None


def test_bytes_round_trip_with_and_without_params_and_an_old_blob_loads():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 3, 1, 4, 4), dtype=np.uint8)
    params = rng.normal(size=(2, 3, 11)).astype(np.float32)
    back = Timelapse.from_bytes(Timelapse([0, 1, 5], frames, params).to_bytes())
    assert back.epochs == [0, 1, 5] and np.array_equal(back.frames, frames)
    assert back.params.dtype == np.float32 and np.array_equal(back.params, params)
    bare = Timelapse.from_bytes(Timelapse([0, 1, 5], frames).to_bytes())
    assert bare.params is None and np.array_equal(bare.frames, frames)
    old = io.BytesIO()                                     # written as runs were stored before params existed
    np.savez_compressed(old, epochs=np.array([0, 1, 5], dtype=np.int64), frames=frames)
    loaded = Timelapse.from_bytes(old.getvalue())
    assert loaded.epochs == [0, 1, 5] and loaded.params is None and np.array_equal(loaded.frames, frames)


def test_members_since_extended_and_stack_carry_params():
    rng = np.random.default_rng(1)
    tl = Timelapse([0, 1, 2, 4], rng.integers(0, 256, (3, 4, 1, 2, 2), dtype=np.uint8),
                   rng.normal(size=(3, 4, 5)).astype(np.float32))
    assert np.array_equal(tl.member(1).params, tl.params[1:2])
    assert np.array_equal(tl.members(1, 3).params, tl.params[1:3])
    head, tail = Timelapse(tl.epochs[:2], tl.frames[:, :2], tl.params[:, :2]), tl.since(2)
    assert tail.epochs == [2, 4] and np.array_equal(tail.params, tl.params[:, 2:])
    joined = head.extended(tail)
    assert joined.epochs == tl.epochs and np.array_equal(joined.params, tl.params)
    assert head.extended(Timelapse(tail.epochs, tail.frames)).params is None      # a part without: none at all
    stacked = Timelapse.stack([tl.member(k) for k in range(3)])
    assert np.array_equal(stacked.params, tl.params) and np.array_equal(stacked.frames, tl.frames)
    assert Timelapse.stack([tl.member(0), Timelapse(tl.epochs, tl.frames[1:2])]).params is None


def test_running_snapshots_carry_the_params_so_far():
    config = RunConfig(dataset="moons", n_samples=100, epochs=150, hidden_layers=(5,), device="cpu")
    snaps = list(Trainer(config).steps(timelapse=True, grid_resolution=6, snapshot_every=20))
    final = snaps[-1].timelapse
    for snap in snaps[:-1]:
        n = len(snap.timelapse.epochs)
        assert np.array_equal(snap.timelapse.params, final.params[:, :n])


def test_a_merged_batch_stores_and_replays_each_members_params(manager):
    base = RunConfig(dataset="moons", n_samples=120, noise=0.2, epochs=80, hidden_layers=(6,), dtype="float64",
                     optimizer="adam", lr=0.01, batch_size=32, device="cpu")
    configs = [base.replace(seed=s, lr=lr) for s, lr in ((1, 0.01), (2, 0.02))]    # one activation: they merge
    blocker = hold_the_worker(manager)
    handles = [manager.submit(c, owner=f"student{i}") for i, c in enumerate(configs)]
    release(manager, blocker)
    for handle in handles:
        assert handle.wait(TIMEOUT) and handle.status == "done"
    assert len(manager.executor.jobs[-1]) == 2                                   # trained as one batch
    for handle, config in zip(handles, configs):
        alone = train(config, timelapse=True, grid_resolution=10).timelapse
        own = handle.snapshot.timelapse
        assert own.params.shape == alone.params.shape                           # (1, frames, P): its own only
        np.testing.assert_allclose(own.params, alone.params, rtol=1e-5, atol=1e-6)
        stored = manager.store.get(config.key).timelapse
        assert stored.epochs == alone.epochs and np.array_equal(stored.params, own.params)
        replayed = manager.submit(config)
        assert replayed.from_cache and np.array_equal(replayed.snapshot.timelapse.params, own.params)
