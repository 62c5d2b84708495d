"""Inside the network, the core: the loss registry, field roles and key stability, input features,
L1/L2 penalties and gradient flow, each against the textbook loop or an invariant."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from nonlin_core import RunConfig, datasets, features
from nonlin_core.config import FIELDS, ROLES, ConfigError, fields_with_role
from nonlin_core.errors import DataError
from nonlin_core.flow import Penalty, penalty
from nonlin_core.grid import decision_grid, grid_points
from nonlin_core.losses import LOSSES, output_width
from nonlin_core.models import build_mlp, load_mlp
from nonlin_core.reference import textbook_train
from nonlin_core.training import METRICS, PER_MEMBER, Trainer, batch_key, check_batch, train
from nonlin_core.tuning import configure_process

CORE = Path(__file__).resolve().parents[1] / "nonlin_core"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    configure_process(freeze_gc=False)


# --- the loss registry ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradient_is_autograds_and_probabilities_agree_with_prediction(name):
    gen = torch.Generator().manual_seed(0)
    n_classes = 3 if output_width(name, 3) == 3 else 2
    width = output_width(name, n_classes)
    z = torch.randn(50, width, dtype=torch.float64, generator=gen, requires_grad=True)
    t = torch.randint(0, n_classes, (50,), generator=gen)
    spec = LOSSES[name]
    per = spec.per_sample(z, t, 1)
    assert per.shape == (50,) and bool((per >= 0).all())
    (auto,) = torch.autograd.grad(per.sum(), z)
    torch.testing.assert_close(spec.grad(z.detach(), t, 1), auto, rtol=0, atol=1e-12)
    textbook = spec.module()(z.squeeze(1) if spec.squeeze else z, t.to(torch.float64) if spec.float_target else t)
    torch.testing.assert_close(per.mean(), textbook, rtol=0, atol=1e-12)
    p = spec.probs(z.detach(), 1)
    assert p.shape == (50, n_classes)
    torch.testing.assert_close(p.sum(1), torch.ones(50, dtype=torch.float64))
    assert torch.equal(spec.predict(z.detach(), 1), p.argmax(1))
    # features-first (K, out, n) gives the same numbers along dim 1
    zk = z.detach().T.unsqueeze(0)
    torch.testing.assert_close(spec.grad(zk, t.unsqueeze(0), 1)[0], auto.T)


def test_no_loss_branches_outside_the_registry():
    smell = re.compile(r"""loss\s*==\s*["'](bce|ce)["']""")
    offenders = [p.name for p in CORE.glob("*.py") if smell.search(p.read_text())]
    assert offenders == []


# --- field roles and key stability ---------------------------------------------------------------------
def test_every_field_has_a_role_and_the_derived_sets_follow_them():
    assert {f.role for f in FIELDS} <= set(ROLES)
    assert set(PER_MEMBER) == {"seed", "activation", "lr", "momentum", "weight_decay", "l1", "l2"}
    assert "features" in fields_with_role("data") and "hidden_layers" in fields_with_role("shape")
    with pytest.raises(ValueError, match="role"):
        fields_with_role("colour")


def test_batch_key_ignores_member_fields_and_check_batch_names_the_others():
    a = RunConfig(seed=1, l1=0.01, activation="tanh")
    assert batch_key(a) == batch_key(RunConfig(seed=2, l2=0.1, lr=0.5))
    check_batch([a, a.replace(l2=0.2, weight_decay=0.1)])
    with pytest.raises(ConfigError, match="features"):
        check_batch([a, a.replace(features="x1^2,x2^2")])


# keys of configs stored by 0.2 (computed there): a new field must not change them
STORED_KEYS = {
    "41d5eded8a99a876": {},
    "2288ee37c560a106": {"dataset": "spiral", "n_classes": 3, "loss": "ce", "hidden_layers": (32, 32),
                         "optimizer": "adam", "batch_size": 32, "standardize": True},
    "0be0524a78994d3c": {"hidden_layers": (), "activation": "none", "dtype": "float64", "epochs": 50},
}


@pytest.mark.parametrize("key", list(STORED_KEYS))
def test_keys_of_configs_stored_before_the_new_fields_are_unchanged(key):
    config = RunConfig(**STORED_KEYS[key])
    assert config.key == key
    assert not {"features", "l1", "l2"} & set(__import__("json").loads(config.to_json()))
    assert RunConfig.from_dict(__import__("json").loads(config.to_json())) == config
    assert config.replace(l1=0.01).key != key and config.replace(features="x1^2,x2^2").key != key


def test_new_fields_since_are_marked():
    assert {f.name for f in FIELDS if f.since} >= {"features", "l1", "l2"}


# --- features ------------------------------------------------------------------------------------------
def test_features_are_canonical_and_unknown_names_raise_naming_the_allowed_ones():
    assert RunConfig(features=" x1^2 , x2^2 ").features == "x1^2,x2^2"
    assert RunConfig(features="x1,x2") == RunConfig()                        # the raw pair is the default
    with pytest.raises(ConfigError, match=r"'x3' is not one of x1, x2, x1\^2, x2\^2, x1\*x2, sin\(x1\), sin\(x2\)"):
        RunConfig(features="x1,x3")
    with pytest.raises(ConfigError, match="twice"):
        RunConfig(features="x1,x1")
    back = RunConfig.from_query(RunConfig(features="x1*x2,sin(x1)").to_query())
    assert back.features == "x1*x2,sin(x1)"


def test_features_are_computed_after_the_split_and_before_scaling():
    config = RunConfig(features="x1^2,x2^2,x1*x2,sin(x1)", standardize=True, n_samples=200)
    raw, data = datasets.load(RunConfig(n_samples=200)), datasets.load(config)
    R = raw.X_train                                                         # the same split, unscaled
    expected = np.stack([R[:, 0] ** 2, R[:, 1] ** 2, R[:, 0] * R[:, 1], np.sin(R[:, 0])], 1)
    np.testing.assert_allclose(data.X_train, (expected - expected.mean(0)) / expected.std(0), atol=1e-12)
    assert data.feature_names == ("x1^2", "x2^2", "x1*x2", "sin(x1)") and data.raw_names == ("x1", "x2")
    np.testing.assert_array_equal(data.raw_train, R)


def test_grid_points_go_through_the_feature_map():
    config = RunConfig(features="x2^2,x1", standardize=True, n_samples=200)
    data = datasets.load(config)
    grid = grid_points(data, resolution=7)
    gx, gy = np.meshgrid(grid.xs, grid.ys)
    expected = np.stack([gy.ravel() ** 2, gx.ravel()], 1)
    np.testing.assert_allclose(grid.points, (expected - data.mean) / data.scale, atol=1e-12)
    assert grid.xs.min() < data.raw_train[:, 0].min() and grid.xs.max() > data.raw_train[:, 0].max()


def test_tabular_features_pick_columns_and_unknown_columns_name_the_allowed_ones():
    config = RunConfig(dataset="heart_failure", features="age,serum_creatinine", standardize=True, loss="bce")
    data = datasets.load(config)
    assert data.feature_names == ("age", "serum_creatinine") and data.n_features == 2
    assert len(data.raw_names) == 12
    with pytest.raises(DataError, match="'x1\\^2' is not one of age, "):
        datasets.load(config.replace(features="x1^2"))


def test_a_linear_model_on_squared_features_separates_circles_with_a_circle():
    config = RunConfig(features="x1^2,x2^2", hidden_layers=(), activation="none", epochs=300, lr=0.5)
    snap = train(config, grid=True)
    assert snap.final[0]["test_acc"] >= 0.95
    plain = train(config.replace(features=""))
    assert plain.final[0]["test_acc"] < 0.7                                 # a line cannot
    data = datasets.load(config)
    model = load_mlp(config, data.n_features, data.n_classes, snap.state_dicts[0])
    _, probs = decision_grid(model, data, loss=config.loss, resolution=60)
    np.testing.assert_allclose(snap.grid[0], probs, atol=1e-5)              # engine grid == model over the grid
    p1 = probs[1]
    assert p1[30, 30] > 0.5 > p1[0, 0] or p1[30, 30] < 0.5 < p1[0, 0]       # inside vs corner: a closed boundary


# --- L1, L2 and gradient flow against the textbook loop ------------------------------------------------
CASES = {"sgd": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9}, "adam": {"optimizer": "adam", "lr": 0.01}}


@pytest.mark.parametrize(("optimizer", "batch_size", "loss"), list(itertools.product(CASES, [0, 32], ["bce", "ce"])))
def test_engine_equals_textbook_loop_with_features_l1_and_l2(optimizer, batch_size, loss):
    data_fields = {"dataset": "circles", "noise": 0.1} if loss == "bce" else {
        "dataset": "spiral", "noise": 0.1, "n_classes": 3, "loss": "ce"}
    config = RunConfig(n_samples=100, hidden_layers=(8, 6), activation="tanh", epochs=20, dtype="float64",
                       device="cpu", batch_size=batch_size, features="x1,x2,x1^2,x1*x2,sin(x2)", standardize=True,
                       l1=0.01, l2=0.05, **data_fields, **CASES[optimizer])
    data = datasets.load(config)
    snap, reference = train(config), textbook_train(config, data)
    assert snap.status == ["done"]
    for m in METRICS:
        np.testing.assert_allclose(snap.history[m][0], reference[m], rtol=0, atol=1e-6, err_msg=m)
    assert snap.grad_norm.shape == (1, config.epochs, 3)
    np.testing.assert_allclose(snap.grad_norm[0], np.array(reference["grad_norm"]), rtol=1e-8, atol=1e-10)


def test_penalty_gradient_is_autograds_and_leaves_biases_alone():
    model = build_mlp(3, (5,), 2, "tanh", seed=1, dtype=torch.float64)
    total = penalty(model, 0.3, 0.7)
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    params = list(model.parameters())
    grads = torch.autograd.grad(total, params, allow_unused=True, materialize_grads=True)
    for p, g in zip(params, grads):
        if p.dim() == 1:
            assert torch.count_nonzero(g) == 0                                 # biases: not penalised
    gw = [torch.zeros_like(w).unsqueeze(0) for w in weights]
    Penalty([RunConfig(l1=0.3, l2=0.7)], "cpu", torch.float64).add_grad([w.detach().unsqueeze(0) for w in weights], gw)
    for g, auto in zip(gw, [g for p, g in zip(params, grads) if p.dim() == 2]):
        torch.testing.assert_close(g[0], auto, rtol=0, atol=1e-12)
    assert not Penalty([RunConfig()], "cpu", torch.float64)


def test_l1_shrinks_weights_towards_zero_and_members_keep_their_own_rates():
    base = RunConfig(dataset="moons", hidden_layers=(16,), epochs=300, lr=0.2, dtype="float64", device="cpu")
    configs = [base, base.replace(l1=0.01), base.replace(l2=0.05)]
    snap = None
    for snap in Trainer(configs).steps():
        pass
    norms = [sum(float(v.abs().sum()) for n, v in sd.items() if n.endswith("weight")) for sd in snap.state_dicts]
    assert norms[1] < 0.8 * norms[0] and norms[2] < 0.8 * norms[0]
    alone = train(configs[1])
    np.testing.assert_allclose(alone.history["train_loss"][0], snap.history["train_loss"][1], rtol=0, atol=1e-10)


def test_deep_sigmoid_gradients_vanish_towards_the_input_and_relu_gradients_do_not():
    base = RunConfig(dataset="moons", hidden_layers=(8,) * 6, epochs=5, dtype="float64", device="cpu")
    sig, relu = train(base.replace(activation="sigmoid")), train(base.replace(activation="relu"))
    first_to_last = lambda s: s.grad_norm[0, 0, 0] / s.grad_norm[0, 0, -1]
    assert first_to_last(sig) < 0.01 < first_to_last(relu)
    assert sig.saturated.shape == (1, 6) and np.isnan(relu.saturated).all()
    assert relu.dead.shape == (1, 6) and ((relu.dead >= 0) & (relu.dead <= 1)).all()


def test_saturated_and_dead_shares_count_what_they_say():
    config = RunConfig(dataset="moons", hidden_layers=(4,), activation="tanh", epochs=1, lr=1e-6,
                       dtype="float64", device="cpu")
    snap = train(config)
    data = datasets.load(config)
    model = load_mlp(config, data.n_features, data.n_classes, snap.state_dicts[0])
    z = model[0](torch.as_tensor(data.X_train))
    assert snap.saturated[0, 0] == pytest.approx(float((z.abs() > 2.178).double().mean()))
    relu = config.replace(activation="relu")
    snap = train(relu)
    model = load_mlp(relu, data.n_features, data.n_classes, snap.state_dicts[0])
    a = torch.relu(model[0](torch.as_tensor(data.X_train)))
    assert snap.dead[0, 0] == pytest.approx(float((a == 0).all(0).double().mean()))


def test_features_module_works_on_tensors_like_arrays():
    R = np.random.default_rng(0).normal(size=(5, 2))
    names = tuple(features.FEATURES)
    np.testing.assert_allclose(features.compute(names, torch.as_tensor(R), ("x1", "x2")).numpy(),
                               features.compute(names, R, ("x1", "x2")), atol=1e-15)


def test_gradient_flow_survives_the_store_and_older_runs_have_none():
    import json

    from nonlin_core.flow import restored, stored_history
    from nonlin_core.store import history_lists
    config = RunConfig(dataset="moons", hidden_layers=(5, 3), activation="sigmoid", epochs=12, device="cpu")
    m = train(config).member(0)
    history = json.loads(json.dumps(stored_history(history_lists({k: m.history[k][0] for k in METRICS}), m)))
    back = restored([history], config.epochs)
    np.testing.assert_allclose(back["grad_norm"], m.grad_norm)
    np.testing.assert_allclose(back["saturated"], m.saturated)
    np.testing.assert_allclose(back["dead"], m.dead)
    assert restored([history_lists({k: m.history[k][0] for k in METRICS})], config.epochs) == {}
