"""The engine: K same-shape MLPs trained as one computation (K = 1 for a single run). Parameters
live in one flat buffer [K, P], activations are kept features-first [K, features, N], backprop is
closed-form (the aten backward ops autograd uses) and the optimizer is torch.optim's, fused, on that
buffer (optim.py)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from . import datasets
from .config import RunConfig
from .control import RunControl
from .flow import GradNorms, Penalty, unit_health
from .grid import grid_points
from .losses import LOSSES, output_width, target_dtype
from .metrics import final_metrics
from .models import ACTIVATIONS, derive_seed, init_generator, init_parameters
from .optim import flat_optimizer
from .regions import REGION_RESOLUTION, count_regions, piecewise_linear
from .shuffles import SHUFFLES
from .snapshot import Snapshot
from .timelapse import TIMELAPSE_MAX_PARAMS, Recorder

aten = torch.ops.aten


@dataclass
class _Net:
    """K MLPs in flat buffers params/grads (K, P), with per-layer views into both."""
    params: Tensor
    grads: Tensor
    weights: list[Tensor] = field(default_factory=list)   # (K, out, in)
    biases: list[Tensor] = field(default_factory=list)    # (K, out, 1)
    gweights: list[Tensor] = field(default_factory=list)
    gbiases: list[Tensor] = field(default_factory=list)


def _make_net(configs: list[RunConfig], n_in: int, n_out: int, device, dtype, gens: list[torch.Generator]) -> _Net:
    flat = torch.stack([init_parameters(n_in, c.hidden_layers, n_out, dtype=dtype, seeding=c.seeding, generator=g)
                        for c, g in zip(configs, gens)]).to(device)
    net, K, offset = _Net(flat.detach(), torch.zeros_like(flat)), len(configs), 0
    widths = [n_in, *configs[0].hidden_layers, n_out]
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        for buf, ws, bs in ((net.params, net.weights, net.biases), (net.grads, net.gweights, net.gbiases)):
            ws.append(buf[:, offset:offset + fan_out * fan_in].view(K, fan_out, fan_in))
            bs.append(buf[:, offset + fan_out * fan_in:offset + fan_out * (fan_in + 1)].view(K, fan_out, 1))
        offset += fan_out * (fan_in + 1)
    return net


# Activations whose derivative needs only the output a: forward overwrites z, backward overwrites the incoming
# gradient (both fresh buffers of the engine), sparing a K x width x N write per layer (its L2 spill at K = 32).
_IN_PLACE = {
    "relu": (torch.relu_, lambda g, z, a: aten.threshold_backward.grad_input(g, a, 0, grad_input=g)),
    "tanh": (torch.tanh_, lambda g, z, a: aten.tanh_backward.grad_input(g, a, grad_input=g)),
    "sigmoid": (torch.sigmoid_, lambda g, z, a: aten.sigmoid_backward.grad_input(g, a, grad_input=g)),
    "none": (lambda z: z, lambda g, z, a: g),
}


class _Activations:
    """Each member's activation; a single call when all members share one, in place where _IN_PLACE has it.
    forward(z) may return z itself; backward(g, z, a) may overwrite g (the engine passes fresh tensors)."""

    def __init__(self, names: list[str], device):
        self.groups = {n: torch.tensor([k for k, m in enumerate(names) if m == n], device=device)
                       for n in dict.fromkeys(names)}
        self.single = None
        self.names = names
        if len(self.groups) == 1:
            act = ACTIVATIONS[names[0]]
            self.single = _IN_PLACE.get(names[0], (act.fn, act.backward))

    def apply(self, z: Tensor) -> Tensor:
        """forward without touching z."""
        if self.single:
            return ACTIVATIONS[self.names[0]].fn(z)
        return self.forward(z)

    def forward(self, z: Tensor) -> Tensor:
        if self.single:
            return self.single[0](z)
        out = torch.empty_like(z)
        for name, idx in self.groups.items():
            out[idx] = ACTIVATIONS[name].fn(z[idx])
        return out

    def backward(self, g: Tensor, z: Tensor, a: Tensor) -> Tensor:
        if self.single:
            return self.single[1](g, z, a)
        out = torch.empty_like(z)
        for name, idx in self.groups.items():
            out[idx] = ACTIVATIONS[name].backward(g[idx], z[idx], a[idx])
        return out


class BatchRun:
    """One (batched) training run's state; `run()` is the loop. Call it under torch.no_grad()."""

    def __init__(self, cfgs: list[RunConfig], data: datasets.Dataset, dev: torch.device, dt: torch.dtype, *,
                 snapshot_seconds: float, snapshot_every: int, grid: bool, grid_resolution: int,
                 cancel: threading.Event | None, timelapse: bool = False, control: RunControl | None = None,
                 pause_seconds: float | None = None):
        self.started = time.perf_counter()
        self.cfgs, self.data, self.dev, self.dt, self.K = cfgs, data, dev, dt, len(cfgs)
        self.c0 = c0 = cfgs[0]
        self.snapshot_seconds, self.snapshot_every = snapshot_seconds, snapshot_every
        self.G, self.control, self.pause_seconds = grid_resolution, control, pause_seconds
        self.cancel = control.cancel_event if control is not None else cancel
        self.n_out = output_width(c0.loss, data.n_classes)
        self.lossfn = LOSSES[c0.loss]
        self.acts = _Activations([c.activation for c in cfgs], dev)
        self.penalty = Penalty(cfgs, dev, dt)
        self.ntr, self.nte = ntr, nte = len(data.y_train), len(data.y_test)
        self.X = torch.as_tensor(np.concatenate([data.X_train, data.X_test]).T.copy(), dtype=dt, device=dev)  # (F, N)
        self.y = torch.as_tensor(np.concatenate([data.y_train, data.y_test]), device=dev)                   # (N,)
        self.target = self.y.to(target_dtype(c0.loss, dt))
        self.metric_target = self.lossfn.metric_target(self.target)               # all samples, and the test ones
        self.test_metric_target = self.lossfn.metric_target(self.target[ntr:])
        self.avg = torch.zeros(2, ntr + nte, dtype=dt, device=dev)  # per-sample values -> (train, test) means
        self.avg[0, :ntr], self.avg[1, ntr:] = 1 / ntr, 1 / nte
        self.full_batch = c0.batch_size == 0 or c0.batch_size >= ntr
        self.grid, self.timelapse, self.gX = grid, timelapse, None
        self.buffers: dict[tuple, Tensor] = {}   # see buffer()
        if grid or timelapse:
            self.gX = torch.as_tensor(grid_points(data, resolution=grid_resolution).points.T.copy(), dtype=dt, device=dev)
        self.start_over()

    def start_over(self) -> None:
        """The untrained state: parameters and optimizer from the seeds, fresh shufflers, no history."""
        cfgs, c0, dev, dt, K = self.cfgs, self.c0, self.dev, self.dt, self.K
        gens = [init_generator(c.seed, c.seeding) for c in cfgs]
        self.net = _make_net(cfgs, self.data.n_features, self.n_out, dev, dt, gens)
        self.opt = flat_optimizer(cfgs, self.net.params, self.net.grads)
        # raw[k, e] = (loss, acc) x (train, test) at the params after e epochs; train part: see run()
        self.raw = torch.full((K, c0.epochs + 1, 2, 2), float("nan"), dtype=dt, device=dev)
        self.gnorms = GradNorms([self.data.n_features, *c0.hidden_layers, self.n_out], K, c0.epochs, dev, dt)
        self.shufflers = [g if c.seeding == "torch" else torch.Generator().manual_seed(derive_seed(c.seed, "shuffle"))
                          for c, g in zip(cfgs, gens)]   # torch: the shuffles continue the init's stream
        self.status, self.messages = ["running"] * K, [""] * K
        self.diverged_at = [c0.epochs + 1] * K
        self.epoch = 0
        self.recorder = None
        if self.timelapse:
            P = self.net.params.shape[1]
            self.recorder = Recorder(c0.epochs, K, output_width(c0.loss, self.data.n_classes), self.G,
                                     n_params=P if P <= TIMELAPSE_MAX_PARAMS else 0)
            self.record()

    def forward(self, A: Tensor, keep: bool = True):
        """A (1 or K, F, n) -> logits (K, out, n), inputs of each layer, pre-activations of hidden layers."""
        inputs, zs = [], []
        last = len(self.net.weights) - 1
        for i, (W, b) in enumerate(zip(self.net.weights, self.net.biases)):
            if keep:
                inputs.append(A)
            Z = self.affine(W, b, A, self.buffer(("z", i, A.shape[2]), W.shape[1], A.shape[2]) if keep else None)
            if i == last:
                return Z, inputs, zs
            if keep:
                zs.append(Z)
            A = self.acts.forward(Z)

    def affine(self, W: Tensor, b: Tensor, A: Tensor, out: Tensor | None = None) -> Tensor:
        """W (K, out, in), b (K, out, 1), A (1 or K, in, n) -> W A + b (K, out, n), into out if given."""
        # K > 1: the bias as the GEMM's C (b broadcast, beta 1), 15-30% faster at K = 32 than the product then the bias
        # added in place; K = 1 keeps the latter (a mini-batch step measured ~1.5 us slower with C)
        if A.shape[0] == self.K:
            return torch.baddbmm(b, W, A, out=out) if self.K > 1 else torch.bmm(W, A, out=out).add_(b)
        # input shared by all members: one GEMM over the stacked weights (K*out, in) @ (in, n)
        W, flat_out = W.reshape(-1, W.shape[2]), None if out is None else out.view(-1, A.shape[2])
        if self.K > 1:
            return torch.addmm(b.reshape(-1, 1), W, A[0], out=flat_out).view(self.K, -1, A.shape[2])
        return torch.mm(W, A[0], out=flat_out).view(self.K, -1, A.shape[2]).add_(b)

    def buffer(self, key: tuple, *shape: int) -> Tensor:
        """A (K, *shape) tensor kept for the run under key: the training passes write the same memory every
        epoch instead of fresh ~1 MB tensors (K = 32), which stay in cache."""
        buf = self.buffers.get(key)
        if buf is None or buf.shape[1:] != shape:
            buf = self.buffers[key] = torch.empty(self.K, *shape, dtype=self.dt, device=self.dev)
        return buf

    def pre_activations(self, A: Tensor) -> list[Tensor]:
        """A (1 or K, F, n) -> each hidden layer's pre-activations (K, width, n), kept (forward's may be overwritten
        by an in-place activation)."""
        zs = []
        for W, b in zip(self.net.weights[:-1], self.net.biases[:-1]):
            zs.append(self.affine(W, b, A))
            A = self.acts.apply(zs[-1])
        return zs

    def backward(self, inputs, zs, dZ: Tensor) -> None:
        """dZ (K, out, n) = gradient of the mean loss over the first n columns -> net.grads."""
        n, K, net = dZ.shape[2], self.K, self.net
        for i in range(len(net.weights) - 1, -1, -1):
            A = inputs[i] if inputs[i].shape[2] == n else inputs[i][:, :, :n]
            if A.shape[0] == K and net.gweights[i].is_contiguous():   # K = 1
                torch.bmm(dZ, A.transpose(1, 2), out=net.gweights[i])
            elif A.shape[0] == K:  # bmm into a strided view of grads loops over members: one batched GEMM, one copy;
                # A dZ^T, transposed, is ~8% faster than dZ A^T (K = 32, 10 x 800 x 10), not for one output (30% slower)
                if dZ.shape[1] == 1:
                    net.gweights[i].copy_(torch.bmm(dZ, A.transpose(1, 2)))
                else:
                    net.gweights[i].copy_(torch.bmm(A, dZ.transpose(1, 2)).transpose(1, 2))
            else:  # shared input: (F, n) @ (n, K*out), transposed; 4x faster than (K*out, n) @ (n, F) at K = 32
                net.gweights[i].copy_(torch.mm(A[0], dZ.reshape(-1, n).T).T.view_as(net.gweights[i]))
            torch.sum(dZ, dim=2, keepdim=True, out=net.gbiases[i])
            if i:
                z = zs[i - 1] if zs[i - 1].shape[2] == n else zs[i - 1][:, :, :n]
                W, size = net.weights[i].transpose(1, 2), K * A.shape[1] * n
                # K > 1: the layer above's input, used by that layer alone (done), lends its memory, still in cache,
                # to this gradient (K = 32: -40 us an epoch; at K = 1 the views cost more than they save)
                spent = inputs[i + 1] if K > 1 and i + 1 < len(inputs) else None
                if spent is not None and spent.is_contiguous() and spent.numel() >= size:
                    dA = spent.view(-1)[:size].view(K, A.shape[1], n)
                else:
                    dA = self.buffer(("g", i, n), A.shape[1], n)
                # one output: an outer product, 2x faster as a broadcast multiply than a bmm at K = 32
                (torch.mul if W.shape[2] == 1 and K > 1 else torch.bmm)(W, dZ, out=dA)
                dZ = self.acts.backward(dA, z, A)

    def loss_grad(self, Z: Tensor, target: Tensor, n: int) -> Tensor:
        """Gradient (K, out, n) of the mean loss over the first n columns of logits Z (K, out, N)."""
        Z = Z if Z.shape[2] == n else Z[:, :, :n]
        target = target if target.shape[-1] == n else target[..., :n]
        out = self.buffer(("dZ", n), Z.shape[1], n) if self.full_batch else None   # (a mini-batch's: not worth a lookup)
        return self.lossfn.grad(Z, target.expand(self.K, -1), 1, out=out).mul_(1 / n)

    def per_sample(self, Z: Tensor, target: Tensor) -> Tensor:
        """(2, K, n): loss and correctness (0 or 1) of each sample, in a buffer of the run; target: the loss's
        metric_target of the targets (n,) or (K, n)."""
        n = Z.shape[2]
        out = self.buffer(("metrics", n), 2, n).view(2, self.K, n)   # scratch memory, metric-major
        self.lossfn.metrics_into(Z, target, out)
        return out

    def means(self, Z: Tensor) -> Tensor:
        """(K, 2, 2): mean loss and accuracy (dim 1) over train and test (dim 2) of logits Z (K, out, N)."""
        m = self.per_sample(Z, self.metric_target)
        # (train, test) x (metric, member): (2, N) @ (N, 2K), 2.5x faster at K = 32 than (2K, N) @ (N, 2)
        return torch.mm(self.avg, m.reshape(-1, m.shape[2]).T).view(2, 2, self.K).permute(2, 1, 0)

    def run(self) -> Iterator[Snapshot]:
        last_snap, E, ntr, c0 = time.perf_counter(), self.c0.epochs, self.ntr, self.c0
        zbuf = None if self.full_batch else torch.empty(self.K, self.n_out, ntr, dtype=self.dt, device=self.dev)
        while self.epoch < E:
            action = "train" if self.control is None else self.control.next_action()
            if action == "reset":
                self.start_over()
                continue
            if action == "pause" and not self.cancel.is_set():
                if self.full_batch and self.epoch:
                    self.fill_test_metrics()        # paused: the history up to this epoch, test metrics too
                self.check_divergence(self.epoch)
                if "running" not in self.status:
                    break
                yield self.snapshot(final=False, paused=True)
                if not self.control.wait_while_paused(self.pause_seconds):
                    self.end_running("paused", f"released after {self.pause_seconds:g} s paused "
                                     "(NONLIN_PAUSE_SECONDS); run it again to train it")
                    break
                continue
            if self.cancel is not None and self.cancel.is_set():
                self.end_running("cancelled", "cancelled by the user")
                break
            e = self.epoch
            if self.full_batch:
                # one forward over [train; test] before the step: train metrics of epoch e+1 (the textbook
                # loss.item()) and test metrics after epoch e; train columns alone are backpropagated
                Z, inputs, zs = self.forward(self.X.unsqueeze(0))
                self.raw[:, e] = self.means(Z)
                self.backward(inputs, zs, self.loss_grad(Z, self.target, ntr))
                self.step(e, last=True)
            else:
                order = torch.stack([SHUFFLES[c0.seeding](ntr, g) for g in self.shufflers]).to(self.dev)  # (K, ntr)
                Xe, ye = self.X[:, order].transpose(0, 1), self.target[order]                    # (K, F, ntr), (K, ntr)
                for s in range(0, ntr, c0.batch_size):
                    Z, inputs, zs = self.forward(Xe[:, :, s:s + c0.batch_size])
                    zbuf[:, :, s:s + c0.batch_size] = Z
                    self.backward(inputs, zs, self.loss_grad(Z, ye[:, s:s + c0.batch_size], Z.shape[2]))
                    self.step(e, last=s + c0.batch_size >= ntr)
                # logits seen before each step
                self.raw[:, e, :, 0] = self.per_sample(zbuf, self.lossfn.metric_target(ye)).mean(2).T
                Zt, _, _ = self.forward(self.X[:, ntr:].unsqueeze(0), keep=False)
                self.raw[:, e + 1, :, 1] = self.per_sample(Zt, self.test_metric_target).mean(2).T
            self.epoch = e + 1
            if self.recorder is not None and self.recorder.wants(self.epoch):
                self.record()
            now = time.perf_counter()
            # the first trained epoch is shown at once (a page waits for it to draw the Train click's first frame)
            if ((self.snapshot_every and self.epoch % self.snapshot_every == 0) or now - last_snap >= self.snapshot_seconds
                    or self.epoch == 1):
                self.check_divergence(self.epoch - 1 if self.full_batch else self.epoch)
                if "running" not in self.status:
                    break
                last_snap = now
                yield self.snapshot(final=False)
        if self.full_batch:  # test metrics after the last step
            self.fill_test_metrics()
        self.check_divergence(self.epoch)
        self.status = ["done" if s == "running" else s for s in self.status]
        if self.recorder is not None and (not self.recorder.epochs or self.recorder.epochs[-1] != self.epoch):
            self.record()                       # a run that ended early: its last frame is where it stopped
        yield self.snapshot(final=True)

    def step(self, e: int, last: bool) -> None:
        """The penalty's gradient, epoch e's gradient norms (at its last step) and the optimizer's step."""
        if self.penalty:
            self.penalty.add_grad(self.net.weights, self.net.gweights)
        if last:
            self.gnorms.record(e, self.net.grads)
        self.opt.step()

    def end_running(self, status: str, message: str) -> None:
        """Members still running end with this status and message."""
        self.messages = [message if s == "running" else m for s, m in zip(self.status, self.messages)]
        self.status = [status if s == "running" else s for s in self.status]

    def fill_test_metrics(self) -> None:
        """Full batch: test metrics after the last step (the next epoch's forward would compute the same)."""
        Z, _, _ = self.forward(self.X.unsqueeze(0), keep=False)
        self.raw[:, self.epoch, :, 1] = self.means(Z)[:, :, 1]

    def grid_probs(self) -> Tensor:
        """Class probabilities over the grid, (K, classes, G*G)."""
        Zg, _, _ = self.forward(self.gX.unsqueeze(0), keep=False)
        return self.lossfn.probs(Zg, 1)

    def record(self) -> None:
        """This epoch's time-lapse frame, quantised here as timelapse.quantise does (NaN -> 128), and parameters."""
        p = self.grid_probs()[:, -self.recorder.buf.shape[2]:]   # bce: P(class 1) alone
        q = torch.nan_to_num(p, nan=0.5).mul_(255).round_().clamp_(0, 255).to(torch.uint8)
        params = self.net.params.to("cpu", torch.float32).numpy() if self.recorder.params is not None else None
        self.recorder.add(self.epoch, q.reshape(self.K, p.shape[1], self.G, self.G).cpu().numpy(), params)

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

    def snapshot(self, final: bool, paused: bool = False) -> Snapshot:
        upto = self.epoch if final or paused or not self.full_batch else self.epoch - 1  # full batch: test comes next
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
        if self.grid:
            p = self.grid_probs()
            probs = p.reshape(K, self.data.n_classes, self.G, self.G).to("cpu", torch.float32).numpy()
        status = ["paused" if s == "running" else s for s in self.status] if paused else list(self.status)
        saturated, dead = unit_health(self.pre_activations(self.X[:, :self.ntr].unsqueeze(0)),   # the training data
                                      [c.activation for c in self.cfgs], self.acts.apply)
        snap = Snapshot(upto, self.c0.epochs, hist, status, list(self.messages), probs,
                        seconds=time.perf_counter() - self.started, device=str(self.dev),
                        timelapse=None if self.recorder is None else self.recorder.so_far(),
                        params=self.net.params.to("cpu", torch.float32).numpy().copy()    # a batch (Compare,
                        if self.grid and K == 1 else None,                                 # Sweep) has no diagram
                        grad_norm=self.gnorms.history(upto, self.diverged_at), saturated=saturated, dead=dead)
        if final:
            snap.final, snap.state_dicts = self.finish()
        return snap

    def finish(self) -> tuple[list[dict | None], list[dict]]:
        """Per member: final metrics of the trained model on train and test (and its linear regions), and its
        state_dict."""
        Z, _, _ = self.forward(self.X.unsqueeze(0), keep=False)
        logits = Z.transpose(1, 2).cpu()                                        # (K, N, out)
        net, y_np = self.net, self.y.cpu().numpy()
        finals, states = [], []
        points = None
        for k, c in enumerate(self.cfgs):
            states.append({f"{2 * i}.{name}": t[k].reshape(t.shape[1:] if name == "weight" else (-1,)).to("cpu", copy=True)
                           for i, pair in enumerate(zip(net.weights, net.biases))
                           for name, t in zip(("weight", "bias"), pair)})
            ok = self.status[k] != "diverged" and bool(torch.isfinite(net.params[k]).all())
            if ok and piecewise_linear(c.activation) and points is None:   # the plotted plane, once for all
                points = torch.as_tensor(grid_points(self.data, resolution=REGION_RESOLUTION).points, dtype=self.dt)
            # member k's linear regions: its hidden layers on the CPU, as the module load_mlp builds computes them
            hidden = [(states[k][f"{2 * i}.weight"], states[k][f"{2 * i}.bias"]) for i in range(len(net.weights) - 1)]
            finals.append(final_metrics(logits[k], y_np, self.ntr, c.loss, self.data.n_classes)
                          | {"linear_regions": count_regions(hidden, c.activation, points)} if ok else None)
        return finals, states
