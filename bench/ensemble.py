"""The peer of the batched engine: PyTorch's model-ensembling recipe (torch.func.stack_module_state +
vmap(grad(functional_call))) with the same optimizer (torch.optim, fused) on the stacked parameters,
the same models (build_mlp, same seeds) and the same per-epoch history (train step, then test eval)."""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from nonlin_core.config import RunConfig
from nonlin_core.datasets import Dataset
from nonlin_core.models import build_mlp, output_width

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def ensemble_train(configs: list[RunConfig], data: Dataset, device: str = "cpu") -> dict[str, torch.Tensor]:
    """Full-batch training of len(configs) members (they differ in seed only) -> history (K, epochs) each."""
    c0 = configs[0]
    if c0.batch_size and c0.batch_size < len(data.y_train):
        raise ValueError("the ensembling peer trains full batch only")
    dtype = torch.float64 if c0.dtype == "float64" else torch.float32
    n_out, bce = output_width(c0.loss, data.n_classes), c0.loss == "bce"
    models = [build_mlp(data.n_features, c.hidden_layers, n_out, c.activation, seed=c.seed, dtype=dtype).to(device)
              for c in configs]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    loss_fn = nn.BCEWithLogitsLoss() if bce else nn.CrossEntropyLoss()
    X_tr, X_te = (torch.tensor(x, dtype=dtype, device=device) for x in (data.X_train, data.X_test))
    y_tr, y_te = (torch.tensor(y, dtype=dtype if bce else torch.long, device=device) for y in (data.y_train, data.y_test))

    def logits(p, b, X):
        out = functional_call(base, (p, b), (X,))
        return out.squeeze(-1) if bce else out

    def loss_and_logits(p, b, X, y):
        out = logits(p, b, X)
        return loss_fn(out, y), out

    def correct(out, y):
        return ((out > 0).to(y.dtype) == y) if bce else (out.argmax(-1) == y)

    step_grads = vmap(grad_and_value(loss_and_logits, has_aux=True), in_dims=(0, 0, None, None))
    eval_logits = vmap(logits, in_dims=(0, 0, None))
    kwargs = {"momentum": c0.momentum} if c0.optimizer == "sgd" else {}
    opt = OPTIMIZERS[c0.optimizer](params.values(), lr=c0.lr, weight_decay=c0.weight_decay, fused=True, **kwargs)
    hist: dict[str, list[torch.Tensor]] = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")}
    with torch.no_grad():
        for _ in range(c0.epochs):
            grads, (loss, out) = step_grads(params, buffers, X_tr, y_tr)
            for name, p in params.items():
                p.grad = grads[name]
            opt.step()
            out_te = eval_logits(params, buffers, X_te)
            hist["train_loss"].append(loss)
            hist["train_acc"].append(correct(out, y_tr).to(dtype).mean(-1))
            hist["test_loss"].append(vmap(loss_fn, in_dims=(0, None))(out_te, y_te))
            hist["test_acc"].append(correct(out_te, y_te).to(dtype).mean(-1))
    return {k: torch.stack(v, 1).cpu() for k, v in hist.items()}
