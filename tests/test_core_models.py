"""Activations: each closed-form backward equals autograd (and the textbook derivative);
build_mlp: seeded, nn.Linear-style init, Linear/activation alternation; load_mlp: a run's model with its weights."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nonlin_core.config import RunConfig
from nonlin_core.models import ACTIVATIONS, activation_curve, build_mlp, derive_seed, layer_outputs, load_mlp, output_width

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def normal_cdf(z):
    return 0.5 * (1 + torch.erf(z / math.sqrt(2)))


def normal_pdf(z):
    return torch.exp(-z * z / 2) / math.sqrt(2 * math.pi)


# textbook f'(z), z != 0 (kinks excluded)
DERIVATIVES = {
    "none": lambda z: torch.ones_like(z),
    "relu": lambda z: (z > 0).to(z.dtype),
    "leaky_relu": lambda z: torch.where(z > 0, torch.ones_like(z), torch.full_like(z, 0.01)),
    "elu": lambda z: torch.where(z > 0, torch.ones_like(z), torch.exp(z)),
    "selu": lambda z: SELU_SCALE * torch.where(z > 0, torch.ones_like(z), SELU_ALPHA * torch.exp(z)),
    "gelu": lambda z: normal_cdf(z) + z * normal_pdf(z),
    "silu": lambda z: torch.sigmoid(z) * (1 + z * (1 - torch.sigmoid(z))),
    "mish": lambda z: (torch.tanh(nn.functional.softplus(z))
                       + z * torch.sigmoid(z) * (1 - torch.tanh(nn.functional.softplus(z)) ** 2)),
    "tanh": lambda z: 1 - torch.tanh(z) ** 2,
    "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
    "softplus": lambda z: torch.where(z > 20, torch.ones_like(z), torch.sigmoid(z)),   # torch: linear above 20
    "sin": lambda z: torch.cos(z),
}


def test_registry_has_the_twelve():
    assert set(ACTIVATIONS) == set(DERIVATIVES)
    assert len(ACTIVATIONS) == 12
    assert "none" in ACTIVATIONS


def sample_z(seed: int = 0) -> torch.Tensor:
    """Negatives, positives, exact zeros, tiny and large magnitudes (softplus switches at 20)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(500, generator=gen, dtype=torch.float64) * 4
    extra = torch.tensor([0.0, 0.0, -0.0, 1e-12, -1e-12, 19.99, 20.0, 20.01, 25.0, -25.0, -50.0, 50.0], dtype=torch.float64)
    return torch.cat([z, extra]).reshape(32, 16)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_closed_form_backward_equals_autograd(name):
    act = ACTIVATIONS[name]
    z = sample_z().requires_grad_(True)
    a = act.module()(z)
    g = torch.randn(z.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (expected,) = torch.autograd.grad(a, z, grad_outputs=g)
    got = act.backward(g, z.detach(), a.detach())
    assert got.dtype == torch.float64 and got.shape == z.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_closed_form_backward_equals_textbook_derivative(name):
    z = sample_z(2)
    z = z[z.abs() > 1e-9]
    g = torch.randn(z.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a = ACTIVATIONS[name].fn(z)
    torch.testing.assert_close(ACTIVATIONS[name].backward(g, z, a), g * DERIVATIVES[name](z), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_closed_form_backward_equals_finite_differences(name):
    z = sample_z(4)
    z = z[((z.abs() > 1e-3) & ((z - 20).abs() > 1e-3))]   # away from the kinks (softplus switches to x at 20)
    h = 1e-6
    fn = ACTIVATIONS[name].fn
    numeric = (fn(z + h) - fn(z - h)) / (2 * h)
    closed = ACTIVATIONS[name].backward(torch.ones_like(z), z, fn(z))
    torch.testing.assert_close(closed, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_fn_equals_module(name):
    z = sample_z(5)
    torch.testing.assert_close(ACTIVATIONS[name].fn(z), ACTIVATIONS[name].module()(z), rtol=0, atol=0)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_curve(name):
    x = torch.linspace(-4, 4, 81, dtype=torch.float64)
    y, dy = activation_curve(name, x)
    torch.testing.assert_close(y, ACTIVATIONS[name].fn(x))
    torch.testing.assert_close(dy, ACTIVATIONS[name].backward(torch.ones_like(x), x, y))
    assert not x.requires_grad


# --- build_mlp -----------------------------------------------------------------------------------
def params_of(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("hidden", [(), (3,), (10, 10), (5, 7, 4)])
@pytest.mark.parametrize("activation", ["relu", "none", "tanh"])
def test_structure_alternates_linear_and_activation(hidden, activation):
    model = build_mlp(4, hidden, 3, activation, seed=1)
    modules = list(model)
    assert len(modules) == 2 * len(hidden) + 1
    linears, acts = modules[0::2], modules[1::2]
    assert all(type(m) is nn.Linear for m in linears)
    assert all(type(m) is type(ACTIVATIONS[activation].module()) for m in acts)
    widths = [4, *hidden, 3]
    assert [(m.in_features, m.out_features) for m in linears] == list(zip(widths[:-1], widths[1:]))
    out = model(torch.zeros(6, 4))
    assert out.shape == (6, 3)


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = (build_mlp(2, (10, 10), 1, "relu", seed=s) for s in (7, 7, 8))
    for pa, pb in zip(params_of(a), params_of(b)):
        assert torch.equal(pa, pb)
    assert all(not torch.equal(pa, pc) for pa, pc in zip(params_of(a), params_of(c)))


def test_init_ignores_global_rng_and_activation():
    torch.manual_seed(0)
    a = build_mlp(2, (6,), 1, "relu", seed=3)
    torch.manual_seed(123)
    torch.rand(10)
    b = build_mlp(2, (6,), 1, "sin", seed=3)
    for pa, pb in zip(params_of(a), params_of(b)):
        assert torch.equal(pa, pb)


def test_init_bounds_like_nn_linear():
    model = build_mlp(16, (64, 32), 1, "relu", seed=0)
    for layer in model[0::2]:
        bound = 1 / math.sqrt(layer.in_features)
        for p in (layer.weight.detach(), layer.bias.detach()):
            assert p.abs().max() <= bound
        weight = layer.weight.detach()
        assert weight.abs().max() > 0.95 * bound          # fills the range, not a narrower one
        assert abs(float(weight.mean())) < 0.1 * bound


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_is_honoured(dtype):
    a, b = (build_mlp(3, (5,), 2, "relu", seed=9, dtype=dtype) for _ in range(2))
    assert all(p.dtype == dtype for p in a.parameters())
    assert all(torch.equal(pa, pb) for pa, pb in zip(params_of(a), params_of(b)))


def test_layer_outputs_follow_the_model():
    model = build_mlp(2, (4, 3), 2, "tanh", seed=0, dtype=torch.float64)
    X = torch.randn(20, 2, dtype=torch.float64)
    outs = layer_outputs(model, X)
    assert [z.shape for z, _ in outs] == [(20, 4), (20, 3)]
    a = X
    for (z, act), linear in zip(outs, model[0::2]):
        torch.testing.assert_close(z, linear(a))
        torch.testing.assert_close(act, torch.tanh(z))
        a = act
    torch.testing.assert_close(model[-1](a), model(X))


def test_output_width():
    assert output_width("bce", 2) == 1
    assert output_width("ce", 4) == 4


def test_derive_seed_separates_purposes_and_seeds():
    seeds = {derive_seed(s, p) for s in range(20) for p in ("init", "shuffle")}
    assert len(seeds) == 40
    assert all(0 <= s < 2**63 for s in seeds)
    assert derive_seed(5, "init") == derive_seed(5, "init")


# --- load_mlp ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("loss", "n_classes", "dtype"), [("bce", 2, "float32"), ("ce", 3, "float64")])
def test_load_mlp_rebuilds_a_run_from_its_state_dict_or_flat_vector(loss, n_classes, dtype):
    config = RunConfig(dataset="blobs", n_classes=n_classes, loss=loss, hidden_layers=(5, 4), activation="tanh",
                       dtype=dtype, seed=3)
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    trained = build_mlp(2, (5, 4), output_width(loss, n_classes), "tanh", seed=99, dtype=torch_dtype)  # other weights
    from_state = load_mlp(config, 2, n_classes, trained.state_dict())
    from_vector = load_mlp(config, 2, n_classes, nn.utils.parameters_to_vector(trained.parameters()))
    X = torch.randn(7, 2, dtype=torch_dtype)
    for model in (from_state, from_vector):
        assert not model.training and next(model.parameters()).dtype == torch_dtype
        assert type(model[1]) is nn.Tanh and model(X).shape == (7, output_width(loss, n_classes))
        with torch.no_grad():
            assert torch.equal(model(X), trained(X))


def test_load_mlp_refuses_weights_of_another_shape():
    config = RunConfig(hidden_layers=(5,))
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_mlp(config, 2, 2, build_mlp(2, (6,), 1, "relu").state_dict())
