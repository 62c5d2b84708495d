"""The textbook PyTorch loop (nn.Sequential, autograd, torch.optim, DataLoader, .item() metrics).
Tests check the engine against it; benchmarks time the engine against it."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .config import RunConfig
from .datasets import Dataset
from .flow import penalty
from .losses import LOSSES, output_width, target_dtype
from .models import ACTIVATIONS, build_mlp, derive_seed


def make_optimizer(config: RunConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def textbook_train(config: RunConfig, data: Dataset) -> dict[str, list[float]]:
    """Per-epoch history the way tutorials write it: train step(s), then test eval, .item() each; grad_norm:
    per epoch, each Linear's weight-gradient norm at the epoch's last step."""
    if config.seeding == "torch":           # literally: torch.manual_seed, then the model, then the loader
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            return _train(config, data, _default_init_mlp(config, data))
    return _train(config, data, None)


def _default_init_mlp(config: RunConfig, data: Dataset) -> nn.Sequential:
    """nn.Sequential of nn.Linear layers initialised by their constructors from the global RNG."""
    widths = [data.n_features, *config.hidden_layers, output_width(config.loss, data.n_classes)]
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(config.hidden_layers):
            layers.append(ACTIVATIONS[config.activation].module())
    return nn.Sequential(*layers)


def _train(config: RunConfig, data: Dataset, model: nn.Sequential | None) -> dict[str, list[float]]:
    dtype = torch.float64 if config.dtype == "float64" else torch.float32
    if model is None:
        model = build_mlp(data.n_features, config.hidden_layers, output_width(config.loss, data.n_classes),
                          config.activation, seed=config.seed, dtype=dtype)
    model = model.to(dtype)
    opt = make_optimizer(config, model.parameters())
    spec = LOSSES[config.loss]
    loss_fn = spec.module()
    X_tr, X_te = torch.tensor(data.X_train, dtype=dtype), torch.tensor(data.X_test, dtype=dtype)
    y_tr = torch.tensor(data.y_train, dtype=target_dtype(config.loss, dtype))
    y_te = torch.tensor(data.y_test, dtype=target_dtype(config.loss, dtype))

    def out(logits):
        return logits.squeeze(1) if spec.squeeze else logits

    def correct(logits, y):
        return spec.predict(logits.unsqueeze(1) if spec.squeeze else logits, 1) == y.long()

    hist: dict[str, list] = {k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc", "grad_norm")}
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    regularised = bool(config.l1 or config.l2)     # the penalty joins the loss that is backpropagated, not the metric
    full = config.batch_size == 0 or config.batch_size >= len(y_tr)
    shuffle_gen = None if config.seeding == "torch" else torch.Generator().manual_seed(derive_seed(config.seed, "shuffle"))
    loader = None if full else DataLoader(TensorDataset(X_tr, y_tr), batch_size=config.batch_size, shuffle=True,
                                          generator=shuffle_gen)
    for _ in range(config.epochs):
        model.train()
        if full:
            logits = out(model(X_tr))
            loss = loss_fn(logits, y_tr)
            opt.zero_grad()
            (loss + penalty(model, config.l1, config.l2) if regularised else loss).backward()
            opt.step()
            train_loss, train_acc = loss.item(), correct(logits, y_tr).float().mean().item()
        else:
            total, hits = 0.0, 0
            for xb, yb in loader:
                logits = out(model(xb))
                loss = loss_fn(logits, yb)
                opt.zero_grad()
                (loss + penalty(model, config.l1, config.l2) if regularised else loss).backward()
                opt.step()
                total += loss.item() * len(yb)
                hits += correct(logits, yb).sum().item()
            train_loss, train_acc = total / len(y_tr), hits / len(y_tr)
        model.eval()
        with torch.inference_mode():
            logits = out(model(X_te))
            test_loss, test_acc = loss_fn(logits, y_te).item(), correct(logits, y_te).float().mean().item()
        for k, v in zip(hist, (train_loss, train_acc, test_loss, test_acc)):
            hist[k].append(v)
        hist["grad_norm"].append([m.weight.grad.norm().item() for m in linears])
    return hist
