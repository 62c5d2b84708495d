"""torch.optim's SGD (momentum, L2), Adam (L2) and AdamW, fused, on the engine's flat [K, P] buffer.
The step calls torch.optim's public functional API (`torch.optim.sgd.sgd`, `adam.adam`, `adamw.adamw`) with
fused=True: the same kernels and numbers as `torch.optim.SGD/Adam/AdamW(fused=True).step()`, without the
class's per-step bookkeeping (hooks, profiler, state dicts), which doubled a tiny model's mini-batch time."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.optim.adam import adam
from torch.optim.adamw import adamw
from torch.optim.sgd import sgd

from .config import RunConfig

HYPER = ("lr", "momentum", "weight_decay")   # may differ between the members of one batch


@dataclass
class _Group:
    """Members sharing (lr, momentum, weight_decay): their parameter rows, gradient rows and state."""
    lr: float
    momentum: float
    weight_decay: float
    params: list[Tensor]
    grads: list[Tensor]
    buffers: list[Tensor | None] = field(default_factory=list)   # sgd momentum (made by the first step)
    exp_avgs: list[Tensor] = field(default_factory=list)
    exp_avg_sqs: list[Tensor] = field(default_factory=list)
    steps: list[Tensor] = field(default_factory=list)


class FlatOptimizer:
    """One optimizer for K members whose parameters are the rows of params (K, P) and gradients the rows
    of grads: the whole buffer as one tensor when all share hyper-parameters, else one group per distinct
    (lr, momentum, weight_decay) over its members' rows (views: the step updates the buffer in place)."""

    def __init__(self, configs: list[RunConfig], params: Tensor, grads: Tensor):
        self.kind = configs[0].optimizer
        if self.kind not in ("sgd", "adam", "adamw"):
            raise ValueError(f"optimizer {self.kind!r} is not sgd, adam or adamw")
        members: dict[tuple, list[int]] = {}
        for k, c in enumerate(configs):
            members.setdefault(tuple(getattr(c, h) for h in HYPER), []).append(k)
        self.groups: list[_Group] = []
        for (lr, momentum, weight_decay), ks in members.items():
            ps, gs = ([params], [grads]) if len(members) == 1 else ([params[k] for k in ks], [grads[k] for k in ks])
            group = _Group(lr, momentum, weight_decay, ps, gs, buffers=[None] * len(ps))
            if self.kind != "sgd":   # fused Adam keeps its step count as a float32 tensor, as torch.optim does
                group.exp_avgs = [torch.zeros_like(p) for p in ps]
                group.exp_avg_sqs = [torch.zeros_like(p) for p in ps]
                group.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in ps]
            self.groups.append(group)

    def step(self) -> None:
        """One update of every member from the gradients in grads."""
        for g in self.groups:
            if self.kind == "sgd":
                sgd(g.params, g.grads, g.buffers if g.momentum else [], fused=True, weight_decay=g.weight_decay,
                    momentum=g.momentum, lr=g.lr, dampening=0.0, nesterov=False, maximize=False)
            else:
                update = adamw if self.kind == "adamw" else adam
                update(g.params, g.grads, g.exp_avgs, g.exp_avg_sqs, [], g.steps, fused=True, amsgrad=False,
                       beta1=0.9, beta2=0.999, lr=g.lr, weight_decay=g.weight_decay, eps=1e-8, maximize=False)


def flat_optimizer(configs: list[RunConfig], params: Tensor, grads: Tensor) -> FlatOptimizer:
    """The optimizer the engine steps (see FlatOptimizer)."""
    return FlatOptimizer(configs, params, grads)
