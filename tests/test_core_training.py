"""The batched closed-form engine against the textbook loop, and the invariants of the lessons:
an all-linear MLP is one logistic regression; non-linear beats linear where a line cannot separate."""
from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from nonlin_core import RunConfig, datasets
from nonlin_core.config import ConfigError
from nonlin_core.grid import decision_grid, grid_points
from nonlin_core.models import ACTIVATIONS, load_mlp
from nonlin_core.reference import textbook_train
from nonlin_core.training import METRICS, Snapshot, Trainer, check_batch, pick_device, train
from nonlin_core.tuning import configure_process, torch_threads

TOY = ["circles", "moons", "xor", "spiral", "blobs"]
MULTICLASS = {"n_classes": 3, "loss": "ce"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The textbook loop runs in this process too: the engine's process settings (one intra-op thread)."""
    configure_process(freeze_gc=False)


def run_all(configs, **kwargs) -> Snapshot:
    snap = None
    for snap in Trainer(configs).steps(**kwargs):
        pass
    return snap


def model_of(snap: Snapshot, config: RunConfig, data: datasets.Dataset, k: int = 0) -> torch.nn.Sequential:
    return load_mlp(config, data.n_features, data.n_classes, snap.state_dicts[k])


def assert_history_close(a: dict, b: dict, atol: float = 1e-6):
    for m in METRICS:
        np.testing.assert_allclose(np.asarray(a[m]), np.asarray(b[m]), rtol=0, atol=atol, err_msg=m)


# --- engine == textbook loop ---------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3},
    "adam": {"optimizer": "adam", "lr": 0.01, "weight_decay": 1e-3},
    "adamw": {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.05},
}
DATA = {"bce": {"dataset": "circles", "noise": 0.1}, "ce": {"dataset": "spiral", "noise": 0.1, **MULTICLASS}}


def small(loss: str, **changes) -> RunConfig:
    """100 samples -> 80 train rows: batch 32 leaves a partial last batch of 16."""
    base = {"n_samples": 100, "hidden_layers": (8, 6), "activation": "tanh", "epochs": 20, "dtype": "float64",
            "device": "cpu", **DATA[loss]}
    return RunConfig(**{**base, **changes})


@pytest.mark.parametrize(("optimizer", "batch_size", "loss"), list(itertools.product(OPTIMIZERS, [0, 32], ["bce", "ce"])))
def test_engine_equals_textbook_loop(optimizer, batch_size, loss):
    config = small(loss, batch_size=batch_size, **OPTIMIZERS[optimizer])
    data = datasets.load(config)
    assert batch_size == 0 or len(data.y_train) % batch_size
    snap = train(config)
    reference = textbook_train(config, data)
    assert snap.status == ["done"] and snap.epoch == config.epochs
    for m in METRICS:
        assert snap.history[m].shape == (1, config.epochs)
    engine = {m: snap.history[m][0] for m in METRICS}
    assert_history_close(engine, reference, atol=1e-6)                 # accuracies: the textbook's float32 mean
    for m in ("train_loss", "test_loss"):
        np.testing.assert_allclose(engine[m], reference[m], rtol=1e-10, atol=0, err_msg=m)
    assert engine["train_loss"][-1] < engine["train_loss"][0]             # it trained


def test_engine_equals_textbook_loop_float32():
    config = small("bce", dtype="float32", **OPTIMIZERS["sgd"])
    snap, reference = train(config), textbook_train(config, datasets.load(config))
    for m in ("train_loss", "test_loss"):
        np.testing.assert_allclose(snap.history[m][0], reference[m], rtol=1e-5, err_msg=m)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_size", [0, 16])
def test_same_config_same_numbers(dtype, batch_size):
    config = RunConfig(dataset="moons", n_samples=120, noise=0.2, epochs=15, batch_size=batch_size, dtype=dtype,
                       optimizer="adam", lr=0.01, device="cpu")
    a, b = train(config), train(config)
    for m in METRICS:
        assert np.array_equal(a.history[m], b.history[m])
    assert a.final == b.final
    for name, tensor in a.state_dicts[0].items():
        assert torch.equal(tensor, b.state_dicts[0][name])


def test_seed_changes_the_run():
    config = RunConfig(dataset="moons", n_samples=120, epochs=5, device="cpu")
    assert not np.array_equal(train(config).history["train_loss"], train(config.replace(seed=1)).history["train_loss"])


@pytest.mark.parametrize(("dataset", "activation"), list(itertools.product(TOY, ACTIVATIONS)))
def test_every_activation_trains_on_every_toy_set(dataset, activation):
    extra = MULTICLASS if dataset in ("spiral", "blobs") else {}
    config = RunConfig(dataset=dataset, n_samples=60, noise=0.1, hidden_layers=(6, 6), activation=activation,
                       optimizer="adam", lr=0.01, epochs=10, device="cpu", **extra)
    snap = train(config)
    assert snap.status == ["done"], snap.messages
    data = datasets.load(config)
    for m in METRICS:
        assert snap.history[m].shape == (1, 10) and np.isfinite(snap.history[m]).all(), m
    for m, n in (("train_acc", len(data.y_train)), ("test_acc", len(data.y_test))):
        counts = snap.history[m] * n
        np.testing.assert_array_equal(counts, np.round(counts))              # exact fractions of the rows
    loss = snap.history["train_loss"][0]
    assert loss[-1] < loss[0]
    final = snap.final[0]
    assert final["test_acc"] == snap.history["test_acc"][0, -1]
    assert final["test_loss"] == pytest.approx(snap.history["test_loss"][0, -1], rel=1e-5)
    assert np.sum(final["confusion"]) == len(data.y_test)


# --- snapshots -----------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [0, 16])
def test_snapshots_are_prefixes_of_the_final_history(batch_size):
    config = RunConfig(dataset="xor", n_samples=100, epochs=12, batch_size=batch_size, device="cpu")
    snaps = list(Trainer(config).steps(snapshot_every=3, snapshot_seconds=1e9))
    final = snaps[-1]
    assert final.done and all(not s.done for s in snaps[:-1])
    assert len(snaps) >= 4
    epochs = [s.epoch for s in snaps]
    assert epochs == sorted(epochs) and epochs[-1] == 12
    for s in snaps:
        for m in METRICS:
            assert s.history[m].shape == (1, s.epoch)
            assert np.array_equal(s.history[m], final.history[m][:, :s.epoch])


@pytest.mark.parametrize("batch_size", [0, 16])
def test_the_first_trained_epoch_is_a_snapshot_at_once(batch_size):
    """A page waits for a new run's first snapshot to draw the Train click's first frame: it comes after epoch 1,
    not after snapshot_seconds of training."""
    config = RunConfig(dataset="xor", n_samples=100, epochs=12, batch_size=batch_size, device="cpu")
    snaps = list(Trainer(config).steps(snapshot_seconds=1e9, grid=True, grid_resolution=10))
    epochs = [s.epoch for s in snaps]          # full batch: a snapshot's epoch is the last one with test metrics
    assert len(snaps) == 2 and epochs[0] <= 1 and epochs[1] == 12, epochs
    assert not snaps[0].done and snaps[0].grid.shape == (1, 2, 10, 10)


def test_grid_matches_the_trained_model():
    config = RunConfig(dataset="moons", n_samples=200, epochs=30, device="cpu")
    data = datasets.load(config)
    snap = run_all(config, grid=True, grid_resolution=25)
    assert snap.grid.shape == (1, 2, 25, 25)
    np.testing.assert_allclose(snap.grid.sum(1), 1, atol=1e-6)
    _, expected = decision_grid(model_of(snap, config, data), data, loss="bce", resolution=25)
    np.testing.assert_allclose(snap.grid[0], expected, atol=1e-5)


def test_final_metrics_match_the_state_dict():
    config = small("ce", **OPTIMIZERS["adamw"])
    data = datasets.load(config)
    snap = train(config)
    model = model_of(snap, config, data)
    with torch.no_grad():
        pred = model(torch.as_tensor(data.X_test)).argmax(1).numpy()
    assert snap.final[0]["test_acc"] == np.mean(pred == data.y_test)
    assert snap.final[0]["confusion"] == [[int(np.sum((data.y_test == t) & (pred == p))) for p in range(3)] for t in range(3)]


# --- linear collapse -----------------------------------------------------------------------------
def collapse(model: torch.nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    """Product of the layers' W and the bias carried through: logits = X @ W.T + b."""
    linears = list(model)[0::2]
    W, b = linears[0].weight.detach(), linears[0].bias.detach()
    for layer in linears[1:]:
        W, b = layer.weight.detach() @ W, layer.weight.detach() @ b + layer.bias.detach()
    return W, b


def affine_residual(points: np.ndarray, values: np.ndarray) -> float:
    design = np.column_stack([points, np.ones(len(points))])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return float(np.abs(design @ coef - values).max())


@pytest.mark.parametrize("hidden", [(10,), (10, 10), (5, 5, 5), (8, 3, 6, 4)])
def test_linear_mlp_is_one_logistic_regression(hidden):
    config = RunConfig(hidden_layers=hidden, activation="none", dtype="float64", device="cpu")
    data = datasets.load(config)
    snap = run_all(config, grid=True, grid_resolution=30)
    model = model_of(snap, config, data)
    W, b = collapse(model)
    assert W.shape == (1, 2) and b.shape == (1,)
    X = torch.as_tensor(np.concatenate([data.X_train, data.X_test]))
    with torch.no_grad():
        torch.testing.assert_close(model(X), X @ W.T + b, rtol=0, atol=1e-6)
        points = torch.as_tensor(grid_points(data, resolution=30).points)
        logits = (points @ W.T + b)[:, 0]
        torch.testing.assert_close(model(points)[:, 0], logits, rtol=0, atol=1e-6)
    # the decision boundary is the straight line W·x + b = 0
    p_engine = snap.grid[0, 1].ravel()
    clear = logits.abs().numpy() > 1e-4
    np.testing.assert_array_equal((p_engine > 0.5)[clear], (logits.numpy() > 0)[clear])
    np.testing.assert_allclose(p_engine, torch.sigmoid(logits).numpy(), atol=1e-6)


def test_relu_mlp_is_not_affine():
    config = RunConfig(dtype="float64", device="cpu")
    data = datasets.load(config)
    model = model_of(train(config), config, data)
    points = grid_points(data, resolution=30).points
    with torch.no_grad():
        logits = model(torch.as_tensor(points))[:, 0].numpy()
    assert affine_residual(points, logits) > 1.0


@pytest.fixture(scope="module")
def tutorial_runs() -> dict[str, Snapshot]:
    """The tutorial setup (RunConfig() defaults: circles 1000, noise 0.03, 2→10→10→1, SGD 0.1, 1000 epochs)."""
    base = RunConfig()
    return {"relu": train(base), "none (10,10)": train(base.replace(activation="none")),
            "none (5,5,5)": train(base.replace(activation="none", hidden_layers=(5, 5, 5)))}


def test_linear_stays_near_chance_on_circles(tutorial_runs):
    for name in ("none (10,10)", "none (5,5,5)"):
        snap = tutorial_runs[name]
        assert snap.status == ["done"]
        assert snap.final[0]["test_acc"] < 0.65, name
        assert np.max(snap.history["test_acc"]) < 0.65, name


def test_relu_beats_linear_on_circles(tutorial_runs):
    relu = tutorial_runs["relu"].final[0]["test_acc"]
    assert relu > 0.9
    for name in ("none (10,10)", "none (5,5,5)"):
        assert relu - tutorial_runs[name].final[0]["test_acc"] > 0.3


def test_linear_matches_sklearn_logistic_regression_ceiling():
    """On circles no line does much better than chance: sklearn's logistic regression agrees."""
    data = datasets.load(RunConfig())
    ceiling = LogisticRegression().fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    assert ceiling < 0.65


@pytest.mark.slow
def test_moons_nonlinear_beats_linear():
    config = RunConfig(dataset="moons", n_samples=10_000, noise=0.2, hidden_layers=(10,), optimizer="adamw", lr=1e-3,
                       weight_decay=0.01, batch_size=32, epochs=50, loss="ce")
    data = datasets.load(config)
    logreg = LogisticRegression().fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    relu, linear = train(config), train(config.replace(activation="none"))
    assert relu.status == linear.status == ["done"]
    relu_acc, linear_acc = relu.final[0]["test_acc"], linear.final[0]["test_acc"]
    assert linear_acc <= logreg + 0.02          # a linear net is a logistic regression
    assert relu_acc > 0.95
    assert relu_acc > linear_acc + 0.05


def test_heart_failure_tutorial_setup(heart_dir, monkeypatch):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(heart_dir))
    config = RunConfig(dataset="heart_failure", hidden_layers=(5,), optimizer="sgd", lr=0.01, epochs=1000,
                       standardize=True, loss="bce")
    data = datasets.load(config)
    snap = train(config)
    assert snap.status == ["done"]
    for m in METRICS:
        assert snap.history[m].shape == (1, 1000) and np.isfinite(snap.history[m]).all()
    prior = data.y_train.mean()
    prior_loss = -(prior * np.log(prior) + (1 - prior) * np.log(1 - prior))   # the best constant prediction
    final = snap.final[0]
    assert final["train_loss"] < prior_loss - 0.05
    majority = max(np.mean(data.y_test), 1 - np.mean(data.y_test))
    assert final["test_acc"] > 0.6 and final["test_acc"] >= majority - 0.05
    with torch.no_grad():
        scores = model_of(snap, config, data)(torch.as_tensor(data.X_test, dtype=torch.float32))[:, 0].numpy()
    assert roc_auc_score(data.y_test, scores) > 0.7                              # it ranks deaths above survivors


# --- divergence ----------------------------------------------------------------------------------
BLOW_UP = RunConfig(dataset="spiral", optimizer="sgd", lr=10.0, momentum=0.99, hidden_layers=(64, 64, 64),
                    activation="none", standardize=False, epochs=40, dtype="float64", device="cpu")


def first_non_finite(history: dict) -> int:
    bad = ~np.isfinite(np.array([history["train_loss"], history["test_loss"]])).all(0)
    return int(np.argmax(bad)) if bad.any() else len(bad)


@pytest.mark.parametrize("snapshot_every", [0, 1])
def test_divergence_is_detected(snapshot_every):
    reference = textbook_train(BLOW_UP, datasets.load(BLOW_UP))
    first = first_non_finite(reference)
    assert 0 < first < BLOW_UP.epochs                                   # it genuinely blows up
    snap = run_all(BLOW_UP, snapshot_every=snapshot_every)
    assert snap.status == ["diverged"]
    assert "learning rate" in snap.messages[0] and "lr 10" in snap.messages[0]
    assert f"epoch {first + 1}" in snap.messages[0]
    for m in METRICS:
        h = snap.history[m][0]
        assert np.isfinite(h[:first]).all() and np.isnan(h[first:]).all(), m
        np.testing.assert_allclose(h[:first], reference[m][:first], rtol=1e-6, atol=1e-6, err_msg=m)
    assert snap.final == [None]
    if snapshot_every:
        assert snap.epoch < BLOW_UP.epochs                              # checked each epoch: stopped early


def test_only_the_diverging_member_is_marked():
    configs = [BLOW_UP.replace(lr=0.01), BLOW_UP, BLOW_UP.replace(lr=0.001, seed=7)]
    snap = run_all(configs)
    assert snap.status == ["done", "diverged", "done"]
    assert snap.messages[0] == snap.messages[2] == ""
    assert "learning rate" in snap.messages[1]
    for k in (0, 2):
        assert snap.final[k] is not None
        alone = train(configs[k])
        assert_history_close({m: snap.history[m][k] for m in METRICS}, {m: alone.history[m][0] for m in METRICS}, 1e-6)
    assert snap.final[1] is None


# --- batching ------------------------------------------------------------------------------------
BATCH_CASES = {
    "sgd-full-seeds": ({"optimizer": "sgd", "lr": 0.05}, [{"seed": 1}, {"seed": 2}, {"seed": 3}]),
    "sgd-full-hyper": ({"optimizer": "sgd", "lr": 0.05}, [{"momentum": 0.9}, {"lr": 0.1, "weight_decay": 1e-3}, {}]),
    "sgd-mini-hyper": ({"optimizer": "sgd", "batch_size": 32, "momentum": 0.5},
                       [{"seed": 4}, {"momentum": 0.0, "lr": 0.2}, {"weight_decay": 0.01}]),
    "adamw-full-seeds": ({"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.01}, [{"seed": 1}, {"seed": 2}]),
    "adamw-mini-hyper": ({"optimizer": "adamw", "lr": 0.01, "batch_size": 32},
                         [{"seed": 1}, {"lr": 0.003, "weight_decay": 0.1}, {"weight_decay": 0.5, "seed": 9}]),
    "adam-mini-hyper": ({"optimizer": "adam", "lr": 0.01, "batch_size": 32},
                        [{}, {"weight_decay": 0.01}, {"lr": 0.02}]),
    "activations": ({"optimizer": "sgd", "lr": 0.1, "momentum": 0.9},
                    [{"activation": a, "seed": i} for i, a in enumerate(["relu", "tanh", "none", "sin", "gelu"])]),
    "activations-mini-adamw": ({"optimizer": "adamw", "lr": 0.01, "batch_size": 32},
                               [{"activation": "elu"}, {"activation": "sigmoid", "lr": 0.02}, {"activation": "elu", "seed": 5}]),
}


@pytest.mark.parametrize("loss", ["bce", "ce"])
@pytest.mark.parametrize("case", list(BATCH_CASES))
def test_batch_equals_sequential_runs(case, loss):
    shared, members = BATCH_CASES[case]
    configs = [small(loss, **{**shared, **m}) for m in members]
    batch = run_all(configs)
    assert batch.status == ["done"] * len(configs)
    for k, config in enumerate(configs):
        alone = train(config)
        assert_history_close({m: batch.history[m][k] for m in METRICS}, {m: alone.history[m][0] for m in METRICS}, 1e-6)
        for name, tensor in alone.state_dicts[0].items():
            torch.testing.assert_close(batch.state_dicts[k][name], tensor, rtol=0, atol=1e-6)
        assert batch.final[k]["test_acc"] == alone.final[0]["test_acc"]
        member = batch.member(k)
        assert member.status == alone.status and np.array_equal(member.history["test_loss"], batch.history["test_loss"][k:k + 1])


def test_batch_refuses_members_that_differ_in_shape_or_data():
    base = small("bce")
    check_batch([base, base.replace(seed=3, lr=0.2, activation="relu", momentum=0.5, weight_decay=0.1)])
    for change in ({"hidden_layers": (8, 5)}, {"epochs": 3}, {"batch_size": 8}, {"optimizer": "adam"}, {"data_seed": 1}):
        field = next(iter(change))
        with pytest.raises(ConfigError, match=field):
            Trainer([base, base.replace(**change)])
    with pytest.raises(ConfigError):
        check_batch([])


# --- cancel, device ------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [0, 32])
def test_cancel_from_another_thread(batch_size):
    config = RunConfig(dataset="moons", n_samples=400, epochs=5000, batch_size=batch_size, device="cpu")
    cancel, first = threading.Event(), threading.Event()
    snaps: list[Snapshot] = []
    errors: list[BaseException] = []

    def consume():
        try:
            for snap in Trainer(config).steps(snapshot_every=1, snapshot_seconds=1e9, cancel=cancel):
                snaps.append(snap)
                if len(snaps) == 1:
                    first.set()
                    assert cancel.wait(60), "cancel never came"   # hold the run until the other thread cancels
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    assert first.wait(60)
    canceller = threading.Thread(target=cancel.set)
    canceller.start()
    canceller.join(10)
    worker.join(60)
    assert not worker.is_alive() and not errors, errors
    final = snaps[-1]
    assert final.done and final.status == ["cancelled"]
    assert "cancel" in final.messages[0]
    assert final.epoch < config.epochs and final.epoch <= 2
    for m in METRICS:
        assert final.history[m].shape == (1, final.epoch) and np.isfinite(final.history[m]).all()
    assert final.final[0]["test_acc"] == final.history["test_acc"][0, -1]


def test_cancel_set_before_start_trains_nothing():
    cancel = threading.Event()
    cancel.set()
    snap = run_all(RunConfig(dataset="moons", n_samples=100, epochs=50, device="cpu"), cancel=cancel)
    assert snap.status == ["cancelled"] and snap.epoch == 0


def test_process_settings_apply_to_threads_started_later():
    configure_process(freeze_gc=False)
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    worker.start()
    worker.join(10)
    assert seen == [torch_threads()] == [1]


@pytest.mark.parametrize("raw", ["0", "two", "-1", "1.5"])
def test_bad_thread_count_is_a_clear_config_error(monkeypatch, raw):
    monkeypatch.setenv("NONLIN_TORCH_THREADS", raw)
    with pytest.raises(ConfigError, match=f"NONLIN_TORCH_THREADS={raw!r} must be a whole number"):
        torch_threads()


def test_pick_device(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None:
        monkeypatch.setattr(mps, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    for name in ("cuda", "mps"):
        with pytest.raises(ConfigError, match="device"):
            pick_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")
