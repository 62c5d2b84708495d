"""torch.optim's SGD (momentum, L2), Adam (L2) and AdamW, fused, on the engine's flat [K, P] buffer."""
from __future__ import annotations

import torch
from torch import Tensor

from .config import RunConfig

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
HYPER = ("lr", "momentum", "weight_decay")   # may differ between the members of one batch


def flat_optimizer(configs: list[RunConfig], params: Tensor, grads: Tensor) -> torch.optim.Optimizer:
    """One optimizer for K members whose parameters are the rows of params (K, P) and whose gradients
    are the rows of grads: the whole buffer as one tensor when all share hyper-parameters, else one
    param group per distinct (lr, momentum, weight_decay) over its members' rows."""
    members: dict[tuple, list[int]] = {}
    for k, c in enumerate(configs):
        members.setdefault(tuple(getattr(c, h) for h in HYPER), []).append(k)
    groups = []
    for (lr, momentum, weight_decay), ks in members.items():
        if len(members) == 1:
            tensors = [params]
            params.grad = grads
        else:
            tensors = [params[k] for k in ks]   # row views: the optimizer updates the buffer in place
            for row, k in zip(tensors, ks):
                row.grad = grads[k]
        group = {"params": tensors, "lr": lr, "weight_decay": weight_decay}
        if configs[0].optimizer == "sgd":
            group["momentum"] = momentum
        groups.append(group)
    return OPTIMIZERS[configs[0].optimizer](groups, lr=configs[0].lr, fused=True)
