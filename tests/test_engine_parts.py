"""The engine's shortcuts against what they replace: init without modules, metrics without sklearn's checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, f1_score

from nonlin_core import RunConfig
from nonlin_core.config import ConfigError
from nonlin_core.engine import _IN_PLACE
from nonlin_core.metrics import confusion_counts, macro_f1
from nonlin_core.models import ACTIVATIONS, build_mlp, init_parameters
from nonlin_core.training import pick_device, train


@pytest.mark.parametrize("shape", [(2, (10, 10), 1), (5, (3,), 4), (2, (), 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_init_parameters_equal_build_mlp(shape, dtype):
    n_in, hidden, n_out = shape
    for seed in (0, 7):
        model = build_mlp(n_in, hidden, n_out, "relu", seed=seed, dtype=dtype)
        expected = torch.nn.utils.parameters_to_vector(model.parameters())
        got = init_parameters(n_in, hidden, n_out, seed=seed, dtype=dtype)
        assert got.dtype == dtype and torch.equal(got, expected)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_confusion_and_macro_f1_equal_sklearn(n_classes):
    rng = np.random.default_rng(n_classes)
    labels = list(range(n_classes))
    for trial in range(30):
        n = int(rng.integers(1, 40))
        # some trials leave classes out of y, out of pred, or both (sklearn's zero_division=0 cases)
        y = rng.integers(0, max(1, n_classes - trial % 3), n)
        pred = rng.integers(trial % 2, n_classes, n) if trial % 4 else y.copy()
        confusion = confusion_counts(y, pred, n_classes)
        assert confusion.tolist() == confusion_matrix(y, pred, labels=labels).tolist()
        assert macro_f1(confusion) == pytest.approx(
            f1_score(y, pred, average="macro", labels=labels, zero_division=0), abs=1e-12)


@pytest.mark.parametrize("name", sorted(_IN_PLACE))
def test_in_place_activations_equal_the_registry(name):
    z = torch.randn(3, 4, 50, dtype=torch.float64) * 3
    g = torch.randn(3, 4, 50, dtype=torch.float64)
    act, (forward, backward) = ACTIVATIONS[name], _IN_PLACE[name]
    a = act.fn(z)
    expected = act.backward(g, z, a)
    a_in_place = forward(z.clone())
    assert torch.equal(a_in_place, a)
    assert torch.equal(backward(g.clone(), z, a), expected)


def test_nonlin_device_sets_the_auto_policy(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("NONLIN_DEVICE", "cpu")
    assert pick_device("auto") == torch.device("cpu")      # a GPU box that keeps small runs on the CPU
    monkeypatch.setenv("NONLIN_DEVICE", "cuda")
    assert pick_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        pick_device("auto")
    assert pick_device("cpu") == torch.device("cpu")       # an explicit device is the config's, not the policy's
    monkeypatch.setenv("NONLIN_DEVICE", "tpu")
    with pytest.raises(ConfigError, match="NONLIN_DEVICE='tpu' must be one of auto, cpu, cuda, mps"):
        pick_device("auto")
    monkeypatch.setenv("NONLIN_DEVICE", "")
    assert pick_device("auto") == torch.device("cpu")


def test_nonlin_device_applies_to_a_run(monkeypatch):
    monkeypatch.setenv("NONLIN_DEVICE", "cpu")
    snap = train(RunConfig(epochs=3, n_samples=100))
    assert snap.device == "cpu"
