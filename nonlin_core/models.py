"""ACTIVATIONS registry (function, closed-form derivative, nn.Module), build_mlp and load_mlp."""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .losses import output_width

if TYPE_CHECKING:
    from .config import RunConfig

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


class Sin(nn.Module):
    """sin(x): periodic, SIREN-style."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(x)


@dataclass(frozen=True)
class Activation:
    module: Callable[[], nn.Module]
    fn: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, Tensor], Tensor]  # (dL/da, z, a) -> dL/dz, as autograd does it
    formula: str
    saturates: float | None = None   # |z| past which the slope is under 5% of its peak (sigmoid, tanh)


aten = torch.ops.aten
ACTIVATIONS: dict[str, Activation] = {
    "none": Activation(nn.Identity, lambda z: z, lambda g, z, a: g, "x  (linear)"),
    "relu": Activation(nn.ReLU, torch.relu, lambda g, z, a: aten.threshold_backward(g, a, 0), "max(0, x)"),
    "leaky_relu": Activation(nn.LeakyReLU, F.leaky_relu,
                             lambda g, z, a: aten.leaky_relu_backward(g, z, 0.01, False), "max(0.01x, x)"),
    "elu": Activation(nn.ELU, F.elu, lambda g, z, a: aten.elu_backward(g, 1.0, 1.0, 1.0, True, a),
                      "x if x>0 else e^x − 1"),
    "selu": Activation(nn.SELU, F.selu,
                       lambda g, z, a: aten.elu_backward(g, _SELU_ALPHA, _SELU_SCALE, 1.0, True, a),
                       "1.05·(x if x>0 else 1.67(e^x − 1))"),
    "gelu": Activation(nn.GELU, F.gelu, lambda g, z, a: aten.gelu_backward(g, z), "x·Φ(x)"),
    "silu": Activation(nn.SiLU, F.silu, lambda g, z, a: aten.silu_backward(g, z), "x·σ(x)  (swish)"),
    "mish": Activation(nn.Mish, F.mish, lambda g, z, a: aten.mish_backward(g, z), "x·tanh(softplus(x))"),
    "tanh": Activation(nn.Tanh, torch.tanh, lambda g, z, a: aten.tanh_backward(g, a), "tanh(x)", 2.178),
    "sigmoid": Activation(nn.Sigmoid, torch.sigmoid, lambda g, z, a: aten.sigmoid_backward(g, a),
                          "1 / (1 + e^−x)", 4.357),
    "softplus": Activation(nn.Softplus, F.softplus, lambda g, z, a: aten.softplus_backward(g, z, 1.0, 20.0),
                           "log(1 + e^x)"),
    "sin": Activation(Sin, torch.sin, lambda g, z, a: g * torch.cos(z), "sin(x)"),
}


def derive_seed(seed: int, purpose: str) -> int:
    """Independent 63-bit seed for one use (init, shuffle, ...) of a run's seed."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "big") >> 1


def init_generator(seed: int, seeding: str = "nonlin") -> torch.Generator:
    """The generator a run's init draws from: nonlin = a seed derived for init alone; torch = the state
    torch.manual_seed(seed) gives, which the shuffles then continue (as a tutorial's script does)."""
    return torch.Generator().manual_seed(seed if seeding == "torch" else derive_seed(seed, "init"))


def build_mlp(in_features: int, hidden: tuple[int, ...] | list[int], out_features: int, activation: str,
              *, seed: int = 0, dtype: torch.dtype = torch.float32, seeding: str = "nonlin",
              generator: torch.Generator | None = None) -> nn.Sequential:
    """Linear -> act -> ... -> Linear, init as nn.Linear's default but from a seeded generator (given, or
    init_generator(seed, seeding)); torch seeding draws exactly as nn.Linear's reset_parameters does."""
    gen = generator if generator is not None else init_generator(seed, seeding)
    layers: list[nn.Module] = []
    widths = [in_features, *hidden, out_features]
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        linear = nn.Linear(fan_in, fan_out)
        bound = 1 / math.sqrt(fan_in)  # nn.Linear: kaiming_uniform(a=√5) == U(±1/√fan_in); bias the same
        with torch.no_grad():  # drawn in float32 whatever the dtype: a float64 run starts where float32 does
            if seeding == "torch":
                nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=gen)
            else:
                linear.weight.uniform_(-bound, bound, generator=gen)
            linear.bias.uniform_(-bound, bound, generator=gen)
        layers.append(linear.to(dtype))
        if i < len(hidden):
            layers.append(ACTIVATIONS[activation].module())
    return nn.Sequential(*layers)


def init_parameters(in_features: int, hidden: tuple[int, ...] | list[int], out_features: int, *, seed: int = 0,
                    dtype: torch.dtype = torch.float32, seeding: str = "nonlin",
                    generator: torch.Generator | None = None) -> Tensor:
    """build_mlp's initial parameters as one flat (P,) vector (parameters_to_vector order), without the modules."""
    gen = generator if generator is not None else init_generator(seed, seeding)
    widths, parts = [in_features, *hidden, out_features], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        bound = 1 / math.sqrt(fan_in)   # the same draws, in the same order, as build_mlp
        w_bound = _kaiming_bound(fan_in) if seeding == "torch" else bound
        parts += [torch.empty(fan_out * fan_in).uniform_(-w_bound, w_bound, generator=gen),
                  torch.empty(fan_out).uniform_(-bound, bound, generator=gen)]
    return torch.cat(parts).to(dtype)


def _kaiming_bound(fan_in: int) -> float:
    """nn.init.kaiming_uniform_(a=√5)'s bound, computed as it computes it (equal to 1/√fan_in but for rounding)."""
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    return math.sqrt(3.0) * gain / math.sqrt(fan_in)


def load_mlp(config: RunConfig, n_features: int, n_classes: int, weights: dict | Tensor) -> nn.Sequential:
    """A run's MLP (its shape, activation, loss and dtype) holding trained weights, a state dict or the
    flat (P,) parameter vector, in eval mode on the CPU."""
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    model = build_mlp(n_features, config.hidden_layers, output_width(config.loss, n_classes), config.activation,
                      seed=config.seed, dtype=dtype, seeding=config.seeding)
    if isinstance(weights, Tensor):
        nn.utils.vector_to_parameters(weights.detach().to("cpu", dtype), model.parameters())
    else:
        model.load_state_dict(weights)
    return model.eval()


def layer_outputs(model: nn.Sequential, X: Tensor) -> list[tuple[Tensor, Tensor]]:
    """Per hidden layer: (pre-activation, post-activation), each (n, width)."""
    out, a = [], X
    modules = list(model)
    for i in range(0, len(modules) - 1, 2):
        z = modules[i](a)
        a = modules[i + 1](z)
        out.append((z, a))
    return out


def activation_curve(name: str, x: Tensor) -> tuple[Tensor, Tensor]:
    """(f(x), f'(x)) of a registry activation, derivative by autograd (checks the closed forms)."""
    x = x.detach().clone().requires_grad_(True)
    y = ACTIVATIONS[name].module()(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), dy
