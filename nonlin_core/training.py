"""Training as a generator of Snapshots. One engine trains K same-shape MLPs as one computation
(K = 1 for a single run): parameters live in one flat buffer [K, P], activations are kept
features-first [K, features, N], backprop is closed-form (the aten backward ops autograd uses) and
the optimizers are torch.optim's (fused kernels on the flat buffer). Results equal the textbook
nn.Sequential + autograd + torch.optim + DataLoader loop (tests/test_engine.py)."""
from __future__ import annotations

import ctypes
import dataclasses
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from . import datasets
from .config import ConfigError, RunConfig
from .grid import grid_points
from .metrics import final_metrics
from .models import ACTIVATIONS, build_mlp, derive_seed, output_width

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
PER_MEMBER = ("seed", "activation", "lr", "momentum", "weight_decay")  # may differ inside one batch


_ALLOCATOR_TUNED = False


def tune_allocator() -> None:
    """glibc: serve tensors below 256 MB from the heap and keep up to 512 MB of freed heap, instead of
    mmap/munmap per tensor. Each op of a batched run allocates ~1 MB outputs; with mmap every one of
    them page-faults afresh (measured: ReLU on 320k floats 671 µs -> 141 µs, a K=32 run 2x faster)."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or not sys.platform.startswith("linux"):
        return
    _ALLOCATOR_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 << 20)   # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        pass


def pick_device(name: str = "auto") -> torch.device:
    """auto: cuda if available, then mps, then cpu."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for but no CUDA GPU is available")
    if name == "mps" and not has_mps:
        raise ConfigError("device: mps was asked for but is not available")
    return torch.device(name)


def batch_key(config: RunConfig) -> RunConfig:
    """The config with per-member fields neutralised: equal batch keys can train together."""
    return config.replace(seed=0, activation="none", lr=0.1, momentum=0.0, weight_decay=0.0)


@dataclass
class Snapshot:
    """State of a (batched) run after `epoch` epochs; arrays have K (members) first."""
    epoch: int
    epochs: int
    history: dict[str, np.ndarray]            # METRICS -> (K, epoch)
    status: list[str]                         # per member: running, done, diverged, cancelled
    messages: list[str]
    grid: np.ndarray | None = None            # (K, classes, G, G) class probabilities
    final: list[dict | None] | None = None    # per member, once the run has ended
    state_dicts: list[dict] | None = None     # per member, once the run has ended
    seconds: float = 0.0
    device: str = "cpu"

    @property
    def done(self) -> bool:
        return self.final is not None

    def member(self, k: int) -> Snapshot:
        """Member k alone, as a K = 1 snapshot."""
        def pick(x):
            return None if x is None else x[k:k + 1]
        return dataclasses.replace(self, history={m: v[k:k + 1] for m, v in self.history.items()},
                                   status=[self.status[k]], messages=[self.messages[k]], grid=pick(self.grid),
                                   final=pick(self.final), state_dicts=pick(self.state_dicts))


@dataclass
class _Net:
    """K MLPs in flat buffers params/grads (K, P), with per-layer views into both."""
    params: Tensor
    grads: Tensor
    weights: list[Tensor] = field(default_factory=list)   # (K, out, in)
    biases: list[Tensor] = field(default_factory=list)    # (K, out, 1)
    gweights: list[Tensor] = field(default_factory=list)
    gbiases: list[Tensor] = field(default_factory=list)


def _make_net(configs: list[RunConfig], n_in: int, n_out: int, device, dtype) -> _Net:
    models = [build_mlp(n_in, c.hidden_layers, n_out, c.activation, seed=c.seed, dtype=dtype) for c in configs]
    flat = torch.stack([torch.nn.utils.parameters_to_vector(m.parameters()) for m in models]).to(device)
    net, K, offset = _Net(flat.detach(), torch.zeros_like(flat)), len(configs), 0
    widths = [n_in, *configs[0].hidden_layers, n_out]
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        for buf, ws, bs in ((net.params, net.weights, net.biases), (net.grads, net.gweights, net.gbiases)):
            ws.append(buf[:, offset:offset + fan_out * fan_in].view(K, fan_out, fan_in))
            bs.append(buf[:, offset + fan_out * fan_in:offset + fan_out * (fan_in + 1)].view(K, fan_out, 1))
        offset += fan_out * (fan_in + 1)
    return net


class _Activations:
    """Each member's activation; a single call when all members share one."""

    def __init__(self, names: list[str], device):
        self.groups = {n: torch.tensor([k for k, m in enumerate(names) if m == n], device=device)
                       for n in dict.fromkeys(names)}
        self.single = ACTIVATIONS[names[0]] if len(self.groups) == 1 else None

    def forward(self, z: Tensor) -> Tensor:
        if self.single:
            return self.single.fn(z)
        out = torch.empty_like(z)
        for name, idx in self.groups.items():
            out[idx] = ACTIVATIONS[name].fn(z[idx])
        return out

    def backward(self, g: Tensor, z: Tensor, a: Tensor) -> Tensor:
        if self.single:
            return self.single.backward(g, z, a)
        out = torch.empty_like(z)
        for name, idx in self.groups.items():
            out[idx] = ACTIVATIONS[name].backward(g[idx], z[idx], a[idx])
        return out


class _Optimizer:
    """torch.optim's SGD (momentum, L2), Adam (L2) and AdamW on the flat buffer: its fused kernels when
    all members share hyperparameters, else the same formulas with per-member (K, 1) tensors."""

    def __init__(self, configs: list[RunConfig], net: _Net):
        self.kind, self.net = configs[0].optimizer, net
        dev, dt = net.params.device, net.params.dtype
        hyper = {h: [getattr(c, h) for c in configs] for h in ("lr", "momentum", "weight_decay")}
        self.uniform = all(len(set(v)) == 1 for v in hyper.values())
        self.lr, self.mom, self.wd = (v[0] if self.uniform else torch.tensor(v, device=dev, dtype=dt)[:, None]
                                      for v in hyper.values())
        self.use_mom = any(hyper["momentum"])
        self.use_wd = any(hyper["weight_decay"])
        self.m = torch.zeros_like(net.params)    # momentum buffer / exp_avg
        self.v = torch.zeros_like(net.params)    # exp_avg_sq
        self.steps = torch.zeros((), dtype=torch.float32, device=dev)
        self.t = 0

    def step(self) -> None:
        p, g = self.net.params, self.net.grads
        self.t += 1
        if self.uniform:
            if self.kind == "sgd":
                torch._fused_sgd_([p], [g], [self.m] if self.use_mom else [], weight_decay=self.wd,
                                  momentum=self.mom, lr=self.lr, dampening=0.0, nesterov=False, maximize=False,
                                  is_first_step=self.t == 1)
            else:
                self.steps += 1
                fused = torch._fused_adamw_ if self.kind == "adamw" else torch._fused_adam_
                fused([p], [g], [self.m], [self.v], [], [self.steps], lr=self.lr, beta1=0.9, beta2=0.999,
                      weight_decay=self.wd, eps=1e-8, amsgrad=False, maximize=False)
            return
        if self.kind == "adamw":
            p.mul_(1 - self.lr * self.wd)
        elif self.use_wd:
            g = g + p * self.wd
        if self.kind == "sgd":
            if self.use_mom:
                (self.m.copy_(g) if self.t == 1 else self.m.mul_(self.mom).add_(g))
                g = self.m
            p.addcmul_(g, self.lr, value=-1)
            return
        self.m.lerp_(g, 0.1)
        self.v.mul_(0.999).addcmul_(g, g, value=0.001)
        denom = (self.v.sqrt() / math.sqrt(1 - 0.999 ** self.t)).add_(1e-8)
        p.addcmul_(self.m / denom, self.lr / (1 - 0.9 ** self.t), value=-1)


def check_batch(configs: list[RunConfig]) -> None:
    """Raise ConfigError unless the configs can train as one batch."""
    if not configs:
        raise ConfigError("no configs to train")
    for c in configs[1:]:
        if batch_key(c) != batch_key(configs[0]):
            diff = [f for f in c.to_dict() if getattr(c, f) != getattr(configs[0], f) and f not in PER_MEMBER]
            raise ConfigError(f"batched configs may differ only in {', '.join(PER_MEMBER)}, not in {', '.join(diff)}")


class Trainer:
    """Trains one or more configs that share data, shape and schedule (they differ in PER_MEMBER)."""

    def __init__(self, configs: list[RunConfig] | RunConfig, dataset: datasets.Dataset | None = None):
        self.configs = [configs] if isinstance(configs, RunConfig) else list(configs)
        check_batch(self.configs)
        c0 = self.configs[0]
        self.data = dataset or datasets.load(c0)
        self.device = pick_device(c0.device)
        self.dtype = torch.float64 if c0.dtype == "float64" else torch.float32
        if self.device.type == "mps" and self.dtype == torch.float64:
            raise ConfigError("dtype: mps has no float64; use float32")

    def steps(self, *, snapshot_seconds: float = 0.25, snapshot_every: int = 0, grid: bool = False,
              grid_resolution: int = 60, cancel: threading.Event | None = None) -> Iterator[Snapshot]:
        """Train; yield a Snapshot every snapshot_seconds (and every snapshot_every epochs, if set) and a
        last one with final metrics and state dicts. Every epoch's metrics are recorded."""
        if self.device.type == "cpu":
            torch.set_num_threads(int(os.environ.get("NONLIN_TORCH_THREADS", "1")))
            tune_allocator()
        with torch.no_grad():
            yield from _Run(self, snapshot_seconds, snapshot_every, grid, grid_resolution, cancel).run()


class _Run:
    """One training run's state; `run()` is the loop."""

    def __init__(self, trainer: Trainer, snapshot_seconds, snapshot_every, grid, grid_resolution, cancel):
        self.started = time.perf_counter()
        cfgs, data, dev, dt = trainer.configs, trainer.data, trainer.device, trainer.dtype
        self.cfgs, self.data, self.dev, self.dt, self.K = cfgs, data, dev, dt, len(cfgs)
        self.c0 = c0 = cfgs[0]
        self.snapshot_seconds, self.snapshot_every = snapshot_seconds, snapshot_every
        self.cancel, self.G = cancel, grid_resolution
        self.n_out = output_width(c0.loss, data.n_classes)
        self.net = _make_net(cfgs, data.n_features, self.n_out, dev, dt)
        self.opt = _Optimizer(cfgs, self.net)
        self.acts = _Activations([c.activation for c in cfgs], dev)
        self.ntr, self.nte = ntr, nte = len(data.y_train), len(data.y_test)
        self.X = torch.as_tensor(np.concatenate([data.X_train, data.X_test]).T.copy(), dtype=dt, device=dev)  # (F, N)
        self.y = torch.as_tensor(np.concatenate([data.y_train, data.y_test]), device=dev)                   # (N,)
        self.target = self.y.to(dt) if c0.loss == "bce" else self.y
        self.avg = torch.zeros(ntr + nte, 2, dtype=dt, device=dev)  # per-sample values -> (train, test) means
        self.avg[:ntr, 0], self.avg[ntr:, 1] = 1 / ntr, 1 / nte
        self.full_batch = c0.batch_size == 0 or c0.batch_size >= ntr
        # raw[k, e] = (loss, acc) x (train, test) at the params after e epochs; train part: see run()
        self.raw = torch.full((self.K, c0.epochs + 1, 2, 2), float("nan"), dtype=dt, device=dev)
        self.shufflers = [torch.Generator().manual_seed(derive_seed(c.seed, "shuffle")) for c in cfgs]
        self.gX = None
        if grid:
            self.gX = torch.as_tensor(grid_points(data, resolution=grid_resolution).points.T.copy(), dtype=dt, device=dev)
        self.status, self.messages = ["running"] * self.K, [""] * self.K
        self.diverged_at = [c0.epochs + 1] * self.K
        self.epoch = 0

    def forward(self, A: Tensor, keep: bool = True):
        """A (1 or K, F, n) -> logits (K, out, n), inputs of each layer, pre-activations of hidden layers."""
        inputs, zs, K = [], [], self.K
        last = len(self.net.weights) - 1
        for i, (W, b) in enumerate(zip(self.net.weights, self.net.biases)):
            if keep:
                inputs.append(A)
            if A.shape[0] == K:
                Z = torch.baddbmm(b, W, A)
            else:  # input shared by all members: one GEMM over the stacked weights (K*out, F) @ (F, n)
                Z = torch.addmm(b.reshape(-1, 1), W.reshape(-1, W.shape[2]), A[0]).view(K, W.shape[1], -1)
            if i == last:
                return Z, inputs, zs
            if keep:
                zs.append(Z)
            A = self.acts.forward(Z)

    def backward(self, inputs, zs, dZ: Tensor) -> None:
        """dZ (K, out, n) = gradient of the mean loss over the first n columns -> net.grads."""
        n, K, net = dZ.shape[2], self.K, self.net
        for i in range(len(net.weights) - 1, -1, -1):
            A = inputs[i] if inputs[i].shape[2] == n else inputs[i][:, :, :n]
            if A.shape[0] == K:
                torch.bmm(dZ, A.transpose(1, 2), out=net.gweights[i])
            else:  # shared input: (K*out, n) @ (n, F)
                net.gweights[i].copy_(torch.mm(dZ.reshape(-1, n), A[0].T).view_as(net.gweights[i]))
            torch.sum(dZ, dim=2, keepdim=True, out=net.gbiases[i])
            if i:
                z = zs[i - 1] if zs[i - 1].shape[2] == n else zs[i - 1][:, :, :n]
                dZ = self.acts.backward(torch.bmm(net.weights[i].transpose(1, 2), dZ), z, A)

    def loss_grad(self, Z: Tensor, target: Tensor, n: int) -> Tensor:
        """Gradient (K, out, n) of the mean loss over the first n columns of logits Z (K, out, N)."""
        Z = Z if Z.shape[2] == n else Z[:, :, :n]
        target = target if target.shape[-1] == n else target[..., :n]
        if self.c0.loss == "bce":
            return (torch.sigmoid(Z) - target.unsqueeze(-2)).mul_(1 / n)
        idx = target.expand(self.K, -1).unsqueeze(1)
        return torch.softmax(Z, 1).scatter_add_(1, idx, torch.full(idx.shape, -1.0, dtype=Z.dtype,
                                                                     device=Z.device)).mul_(1 / n)

    def per_sample(self, Z: Tensor, target: Tensor) -> Tensor:
        """(K, 2, n): loss and correctness of each sample."""
        if self.c0.loss == "bce":
            z, t = Z[:, 0], target.expand(self.K, -1)
            return torch.stack([F.binary_cross_entropy_with_logits(z, t, reduction="none"),
                                ((z > 0) == (t > 0.5)).to(self.dt)], 1)
        idx = target.expand(self.K, -1).unsqueeze(1)
        return torch.stack([-torch.log_softmax(Z, 1).gather(1, idx).squeeze(1),
                            (Z.argmax(1) == target).to(self.dt)], 1)

    def run(self) -> Iterator[Snapshot]:
        last_snap, E, ntr, c0 = time.perf_counter(), self.c0.epochs, self.ntr, self.c0
        zbuf = None if self.full_batch else torch.empty(self.K, self.n_out, ntr, dtype=self.dt, device=self.dev)
        for e in range(E):
            if self.cancel is not None and self.cancel.is_set():
                self.messages = ["cancelled by the user" if s == "running" else m
                                 for s, m in zip(self.status, self.messages)]
                self.status = ["cancelled" if s == "running" else s for s in self.status]
                break
            if self.full_batch:
                # one forward over [train; test] before the step: train metrics of epoch e+1 (the textbook
                # loss.item()) and test metrics after epoch e; train columns alone are backpropagated
                Z, inputs, zs = self.forward(self.X.unsqueeze(0))
                self.raw[:, e] = self.per_sample(Z, self.target) @ self.avg
                self.backward(inputs, zs, self.loss_grad(Z, self.target, ntr))
                self.opt.step()
            else:
                order = torch.stack([_epoch_order(ntr, g) for g in self.shufflers]).to(self.dev)  # (K, ntr)
                Xe, ye = self.X[:, order].transpose(0, 1), self.target[order]                    # (K, F, ntr), (K, ntr)
                for s in range(0, ntr, c0.batch_size):
                    Z, inputs, zs = self.forward(Xe[:, :, s:s + c0.batch_size])
                    zbuf[:, :, s:s + c0.batch_size] = Z
                    self.backward(inputs, zs, self.loss_grad(Z, ye[:, s:s + c0.batch_size], Z.shape[2]))
                    self.opt.step()
                self.raw[:, e, :, 0] = self.per_sample(zbuf, ye).mean(2)   # logits seen before each step
                Zt, _, _ = self.forward(self.X[:, ntr:].unsqueeze(0), keep=False)
                self.raw[:, e + 1, :, 1] = self.per_sample(Zt, self.target[ntr:]).mean(2)
            self.epoch = e + 1
            now = time.perf_counter()
            if (self.snapshot_every and self.epoch % self.snapshot_every == 0) or now - last_snap >= self.snapshot_seconds:
                self.check_divergence(self.epoch - 1 if self.full_batch else self.epoch)
                if "running" not in self.status:
                    break
                last_snap = now
                yield self.snapshot(final=False)
        if self.full_batch:  # test metrics after the last step
            Z, _, _ = self.forward(self.X.unsqueeze(0), keep=False)
            self.raw[:, self.epoch, :, 1] = (self.per_sample(Z, self.target) @ self.avg)[:, :, 1]
        self.check_divergence(self.epoch)
        self.status = ["done" if s == "running" else s for s in self.status]
        yield self.snapshot(final=True)

    def check_divergence(self, upto: int) -> None:
        if not upto:
            return
        raw = self.raw
        bad = ~torch.isfinite(raw[:, :upto, 0, 0]) | ~torch.isfinite(raw[:, 1:upto + 1, 0, 1])
        for k in torch.nonzero(bad.any(1)).flatten().tolist():
            if self.status[k] == "running":
                first = int(bad[k].nonzero()[0, 0])
                self.status[k], self.diverged_at[k] = "diverged", first
                self.messages[k] = (f"loss became non-finite at epoch {first + 1}: lr {self.cfgs[k].lr:g} is too "
                                    "high for this model; lower the learning rate")

    def snapshot(self, final: bool) -> Snapshot:
        upto = self.epoch if final or not self.full_batch else self.epoch - 1  # full batch: test comes next step
        raw, K = self.raw, self.K
        hist = {"train_loss": raw[:, :upto, 0, 0], "test_loss": raw[:, 1:upto + 1, 0, 1],
                "train_acc": raw[:, :upto, 1, 0], "test_acc": raw[:, 1:upto + 1, 1, 1]}
        hist = {m: v.to("cpu", torch.float64).numpy().copy() for m, v in hist.items()}
        hist["train_acc"] = np.round(hist["train_acc"] * self.ntr) / self.ntr   # exact fractions
        hist["test_acc"] = np.round(hist["test_acc"] * self.nte) / self.nte
        for k in range(K):  # a diverged member's history stops before its first non-finite epoch
            for v in hist.values():
                v[k, self.diverged_at[k]:] = np.nan
        probs = None
        if self.gX is not None:
            Zg, _, _ = self.forward(self.gX.unsqueeze(0), keep=False)
            p = torch.sigmoid(Zg[:, 0]) if self.c0.loss == "bce" else torch.softmax(Zg, 1)
            p = torch.stack([1 - p, p], 1) if self.c0.loss == "bce" else p
            probs = p.reshape(K, self.data.n_classes, self.G, self.G).to("cpu", torch.float32).numpy()
        snap = Snapshot(upto, self.c0.epochs, hist, list(self.status), list(self.messages), probs,
                        seconds=time.perf_counter() - self.started, device=str(self.dev))
        if final:
            snap.final, snap.state_dicts = self.finish()
        return snap

    def finish(self) -> tuple[list[dict | None], list[dict]]:
        """Per member: final metrics of the trained model on train and test, and its state_dict."""
        finals, states = [], []
        y_np, X_rows = self.y.cpu().numpy(), self.X.T.cpu()
        for k, c in enumerate(self.cfgs):
            model = build_mlp(self.data.n_features, c.hidden_layers, self.n_out, c.activation, seed=c.seed,
                              dtype=self.dt)
            torch.nn.utils.vector_to_parameters(self.net.params[k].cpu(), model.parameters())
            states.append({n: t.detach().clone() for n, t in model.state_dict().items()})
            ok = self.status[k] != "diverged" and bool(torch.isfinite(self.net.params[k]).all())
            finals.append(final_metrics(model(X_rows), y_np, self.ntr, c.loss, self.data.n_classes) if ok else None)
        return finals, states


def _epoch_order(n: int, gen: torch.Generator) -> Tensor:
    """This epoch's sample order, the same stream as DataLoader(shuffle=True, generator=gen): the
    loader draws its workers' base seed, RandomSampler a permutation and, run to its end, a second
    one for the remainder (of which num_samples % n = 0 are used)."""
    torch.empty((), dtype=torch.int64).random_(generator=gen)
    order = torch.randperm(n, generator=gen)
    torch.randperm(n, generator=gen)
    return order


def train_steps(config: RunConfig, **kwargs) -> Iterator[Snapshot]:
    """Single run: Trainer(config).steps(**kwargs)."""
    return Trainer(config).steps(**kwargs)


def train(config: RunConfig, **kwargs) -> Snapshot:
    """Train to the end; the final Snapshot."""
    snap = None
    for snap in train_steps(config, **kwargs):
        pass
    return snap
