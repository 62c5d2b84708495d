"""Gradient flow for the engine: L1/L2 penalty gradients, per-layer gradient norms every epoch and the
health of the hidden units (saturated, dead). Tensors follow the engine's layout: flat (K, P) buffers,
weights (K, out, in), pre-activations (K, width, n)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .config import RunConfig
from .models import ACTIVATIONS


class Penalty:
    """Per-member L1 and L2 rates on the weights (biases are not penalised, as in TF Playground):
    penalty = l1·Σ|w| + l2·Σw²/2, gradient l1·sign(w) + l2·w."""

    def __init__(self, configs: Sequence[RunConfig], device, dtype):
        def rates(name: str) -> Tensor | None:
            values = [getattr(c, name) for c in configs]
            return torch.tensor(values, dtype=dtype, device=device).view(-1, 1, 1) if any(values) else None
        self.l1, self.l2 = rates("l1"), rates("l2")

    def __bool__(self) -> bool:
        return self.l1 is not None or self.l2 is not None

    def add_grad(self, weights: Sequence[Tensor], gweights: Sequence[Tensor]) -> None:
        """gweights (K, out, in) += the penalty's gradient at weights."""
        for W, G in zip(weights, gweights):
            if self.l1 is not None:
                G.addcmul_(torch.sign(W), self.l1)
            if self.l2 is not None:
                G.addcmul_(W, self.l2)


def penalty(model: torch.nn.Module, l1: float, l2: float) -> Tensor:
    """The penalty of an nn.Sequential's Linear weights (the textbook form, differentiable)."""
    total = torch.zeros((), dtype=next(model.parameters()).dtype)
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            total = total + l1 * layer.weight.abs().sum() + 0.5 * l2 * (layer.weight * layer.weight).sum()
    return total


class GradNorms:
    """(K, epochs, layers): the L2 norm of each layer's weight gradient at the last step of every epoch
    (the gradient the optimizer is given: the loss's plus the penalty's)."""

    def __init__(self, widths: Sequence[int], K: int, epochs: int, device, dtype):
        P = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
        self.select = torch.zeros(P, len(widths) - 1, dtype=dtype, device=device)   # (P, layers): 1 on weights
        offset = 0
        for layer, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            self.select[offset:offset + fan_in * fan_out, layer] = 1
            offset += fan_out * (fan_in + 1)
        self.buf = torch.full((K, epochs, len(widths) - 1), float("nan"), dtype=dtype, device=device)

    def record(self, epoch: int, grads: Tensor) -> None:
        """Norms of the flat gradients (K, P) as epoch's (0-based) entry."""
        torch.mm(grads * grads, self.select, out=self.buf[:, epoch])     # squared: the root is taken when read

    def history(self, upto: int, stops: Sequence[int]) -> np.ndarray:
        """(K, upto, layers) float64; member k's entries from stops[k] on are NaN (a diverged run)."""
        out = np.sqrt(self.buf[:, :upto].to("cpu", torch.float64).numpy())
        for k, stop in enumerate(stops):
            out[k, stop:] = np.nan
        return out


def unit_health(zs: Sequence[Tensor], activations: Sequence[str], forward) -> tuple[np.ndarray, np.ndarray]:
    """Per member and hidden layer, (K, hidden) each: the share of (unit, sample) pairs past their
    activation's saturation point (NaN where it has none) and the share of units that output 0 for every
    sample (dead). zs: pre-activations (K, width, n); forward: the members' activation."""
    K = len(activations)
    if not zs:
        return np.zeros((K, 0)), np.zeros((K, 0))
    thr = torch.tensor([ACTIVATIONS[a].saturates or math.inf for a in activations], dtype=zs[0].dtype,
                       device=zs[0].device).view(K, 1, 1)
    sat = torch.stack([(z.abs() > thr).to(z.dtype).mean((1, 2)) for z in zs], 1).cpu().double().numpy()
    sat[~np.isfinite(thr.view(K).cpu().numpy())] = np.nan
    dead = torch.stack([(forward(z) == 0).all(2).to(z.dtype).mean(1) for z in zs], 1).cpu().double().numpy()
    return sat, dead


def grad_norm_lists(grad_norm: np.ndarray, n_epochs: int) -> list[list[float | None]]:
    """One member's (epochs, layers) norms -> per layer, its first n_epochs values (JSON-safe: None if not finite)."""
    return [[float(x) if np.isfinite(x) else None for x in col[:n_epochs]] for col in np.asarray(grad_norm).T]


def share_list(shares: np.ndarray) -> list[float | None]:
    """One member's per-layer shares -> JSON-safe list (None where not defined)."""
    return [float(x) if np.isfinite(x) else None for x in np.asarray(shares)]


def stored_history(history: dict, snap) -> dict:
    """A member's history lists (store.history_lists) plus its gradient flow, as the store and the CLI keep it:
    grad_norm (per layer, per epoch), saturated and dead (per hidden layer, at the end)."""
    out = dict(history)
    if snap.grad_norm is not None:
        out["grad_norm"] = grad_norm_lists(snap.grad_norm[0], len(history.get("epoch", [])))
    if snap.saturated is not None and snap.dead is not None:
        out["saturated"], out["dead"] = share_list(snap.saturated[0]), share_list(snap.dead[0])
    return out


def restored(histories: Sequence[dict], n_epochs: int) -> dict:
    """Snapshot fields grad_norm (K, n_epochs, layers), saturated and dead (K, hidden) from stored histories,
    NaN-padded; {} unless every member has them (runs stored before they were recorded)."""
    if not histories or not all({"grad_norm", "saturated", "dead"} <= set(h) for h in histories):
        return {}
    as_float = lambda values: [np.nan if v is None else float(v) for v in values]
    layers = len(histories[0]["grad_norm"])
    norms = np.full((len(histories), n_epochs, layers), np.nan)
    for k, h in enumerate(histories):
        for layer, values in enumerate(h["grad_norm"][:layers]):
            values = as_float(values)[:n_epochs]
            norms[k, :len(values), layer] = values
    return {"grad_norm": norms, "saturated": np.array([as_float(h["saturated"]) for h in histories]).reshape(len(histories), -1),
            "dead": np.array([as_float(h["dead"]) for h in histories]).reshape(len(histories), -1)}
