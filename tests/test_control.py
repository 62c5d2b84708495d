"""Pause, resume, step and reset in the engine: a paused-and-resumed run equals an uninterrupted one
(float64, 1e-9) for full-batch SGD with momentum and mini-batch AdamW; step n trains exactly n epochs;
reset starts the same seeded run again; a paused run blocks on a Condition until another thread acts."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from nonlin_core import RunConfig
from nonlin_core.control import RunControl
from nonlin_core.training import METRICS, Snapshot, Trainer, train

CASES = {
    "full-batch-sgd": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "batch_size": 0},
    "minibatch-adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.05, "batch_size": 16},
}
TIMEOUT = 60


def config_for(case: str, epochs: int = 40) -> RunConfig:
    return RunConfig(dataset="moons", n_samples=100, noise=0.2, hidden_layers=(8, 6), activation="tanh",
                     epochs=epochs, dtype="float64", device="cpu", **CASES[case])


def assert_same_history(a: Snapshot, b: Snapshot, upto: int | None = None) -> None:
    for m in METRICS:
        np.testing.assert_allclose(a.history[m][:, :upto], b.history[m][:, :upto], rtol=0, atol=1e-9, err_msg=m)


def assert_same_end(a: Snapshot, b: Snapshot) -> None:
    assert_same_history(a, b)
    assert a.status == b.status == ["done"] and a.epoch == b.epoch
    for name, tensor in a.state_dicts[0].items():
        np.testing.assert_allclose(tensor.numpy(), b.state_dicts[0][name].numpy(), rtol=0, atol=1e-9)


def next_paused(steps) -> Snapshot:
    """The next snapshot whose members are paused (running snapshots in between are skipped)."""
    for snap in steps:
        if snap.status == ["paused"]:
            return snap
    raise AssertionError("the run ended without pausing")


@pytest.mark.parametrize("case", CASES)
def test_pause_then_resume_equals_an_uninterrupted_run(case):
    config = config_for(case)
    reference = train(config)
    control = RunControl()
    control.step(13)                                     # train 13 epochs, then pause
    steps = Trainer(config).steps(control=control, timelapse=True, grid_resolution=8)
    paused = next_paused(steps)
    assert paused.epoch == 13 and not paused.done
    assert paused.history["train_loss"].shape == (1, 13)
    assert_same_history(paused, reference, 13)           # the test metrics after epoch 13 included
    control.resume()
    final = list(steps)[-1]
    assert_same_end(final, reference)
    fresh = list(Trainer(config).steps(timelapse=True, grid_resolution=8))[-1].timelapse
    assert final.timelapse.epochs == fresh.epochs and final.timelapse.epochs[-1] == config.epochs
    assert np.array_equal(final.timelapse.frames, fresh.frames)   # recording went on across the pause


@pytest.mark.parametrize("case", CASES)
def test_step_1_and_step_10_train_exactly_that_many_epochs(case):
    config = config_for(case)
    reference = train(config)
    control = RunControl()
    control.pause()
    steps = Trainer(config).steps(control=control)
    assert next_paused(steps).epoch == 0
    epoch = 0
    for n in (1, 10, 1, 10):
        control.step(n)
        snap = next_paused(steps)
        epoch += n
        assert snap.epoch == epoch
        assert_same_history(snap, reference, epoch)
    control.resume()
    assert_same_end(list(steps)[-1], reference)


@pytest.mark.parametrize("case", CASES)
def test_reset_starts_the_same_run_again(case):
    config = config_for(case)
    reference = train(config)
    control = RunControl()
    control.step(17)
    steps = Trainer(config).steps(control=control, timelapse=True, grid_resolution=8)
    assert next_paused(steps).epoch == 17
    control.reset()                                      # paused stays paused, at epoch 0
    again = next_paused(steps)
    assert again.epoch == 0 and again.history["train_loss"].shape == (1, 0) and again.timelapse.epochs == [0]
    control.step(5)
    assert_same_history(next_paused(steps), reference, 5)
    control.resume()
    final = list(steps)[-1]
    assert_same_end(final, reference)
    fresh = list(Trainer(config).steps(timelapse=True, grid_resolution=8))[-1]
    assert final.timelapse.epochs == fresh.timelapse.epochs
    assert np.array_equal(final.timelapse.frames, fresh.timelapse.frames)


def test_reset_while_running_restarts_from_epoch_0():
    config = config_for("full-batch-sgd", epochs=60)
    control = RunControl()
    seen: list[int] = []
    for snap in Trainer(config).steps(control=control, snapshot_every=1, snapshot_seconds=1e9):
        seen.append(snap.epoch)
        if len(seen) == 20:
            control.reset()
    assert seen[19] > seen[20]                            # back to the start
    assert_same_end(snap, train(config))


def test_paused_run_blocks_until_another_thread_resumes_it():
    config = config_for("minibatch-adamw")
    control, paused, errors, result = RunControl(), threading.Event(), [], []
    control.step(5)

    def consume():
        try:
            for snap in Trainer(config).steps(control=control):
                if snap.status == ["paused"]:
                    paused.set()
            result.append(snap)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    assert paused.wait(TIMEOUT)
    worker.join(0.05)
    assert worker.is_alive() and not result               # blocked while paused
    control.resume()
    worker.join(TIMEOUT)
    assert not worker.is_alive() and not errors, errors
    assert_same_end(result[0], train(config))


def test_cancel_wakes_a_paused_run():
    config = config_for("full-batch-sgd")
    control, paused, result = RunControl(), threading.Event(), []
    control.step(3)

    def consume():
        for snap in Trainer(config).steps(control=control):
            if snap.status == ["paused"]:
                paused.set()
        result.append(snap)

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    assert paused.wait(TIMEOUT)
    control.cancel()
    worker.join(TIMEOUT)
    assert result[0].status == ["cancelled"] and result[0].epoch == 3 and result[0].done


def test_a_run_paused_too_long_is_released_as_paused():
    config = config_for("full-batch-sgd")
    control = RunControl()
    control.step(4)
    final = list(Trainer(config).steps(control=control, pause_seconds=0.01))[-1]
    assert final.done and final.status == ["paused"] and final.epoch == 4
    assert "NONLIN_PAUSE_SECONDS" in final.messages[0]
    assert_same_history(final, train(config), 4)
    assert final.final[0] is not None and final.state_dicts[0]


def test_a_paused_wait_beats_its_heartbeat_until_released():
    beats: list[int] = []
    control = RunControl(heartbeat=lambda: beats.append(1), heartbeat_seconds=0.01)
    control.pause()
    assert control.wait_while_paused(0.2) is False and len(beats) >= 3
    control.resume()
    assert control.wait_while_paused(0.2) is True


def test_step_needs_a_positive_count():
    with pytest.raises(ValueError, match="n must be >= 1"):
        RunControl().step(0)
