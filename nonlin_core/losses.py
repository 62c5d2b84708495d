"""LOSSES registry: per loss its output width, class probabilities, prediction, per-sample loss and its
gradient w.r.t. the logits, target dtype and the textbook nn loss (TF Playground's ErrorFunction pairs
error and der the same way). Logits are (n, out) rows or (K, out, n) features-first: `dim` says which
axis holds the outputs."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

aten = torch.ops.aten


@dataclass(frozen=True)
class Loss:
    width: Callable[[int], int]                      # n_classes -> logits per sample
    probs: Callable[[Tensor, int], Tensor]           # (logits, dim) -> probabilities, one per class along dim
    predict: Callable[[Tensor, int], Tensor]         # (logits, dim) -> class index (int64), dim removed
    per_sample: Callable[[Tensor, Tensor, int], Tensor]   # (logits, target, dim) -> loss per sample, dim removed
    grad: Callable[..., Tensor]     # (logits, target, dim, out=None) -> d(sum of per-sample loss)/d logits (into out: bce)
    float_target: bool                               # targets as floats (else int64 class indices)
    module: Callable[[], nn.Module]                  # the textbook criterion on (n, out) logits squeezed by `squeeze`
    squeeze: bool                                    # the criterion takes logits (n,) rather than (n, out)
    blurb: str
    # (K, out, n) logits, metric_target of targets (n,) or (K, n), out (2, K, n) <- per-sample loss and correctness
    # (0 or 1): the engine's metrics of every epoch, in as few passes as the loss allows, into the engine's buffer
    metrics_into: Callable[[Tensor, Tensor, Tensor], None]
    metric_target: Callable[[Tensor], Tensor]        # targets -> what metrics_into takes (the engine's: once a run)


def _sel(z: Tensor, dim: int) -> Tensor:
    return z.select(dim, 0)


def _bce_probs(z: Tensor, dim: int) -> Tensor:
    p = torch.sigmoid(_sel(z, dim))
    return torch.stack([1 - p, p], dim)


def _bce_grad(z: Tensor, t: Tensor, dim: int, out: Tensor | None = None) -> Tensor:
    return torch.sub(torch.sigmoid(z, out=out), t.to(z.dtype).unsqueeze(dim), out=out)


def _ce_grad(z: Tensor, t: Tensor, dim: int, out: Tensor | None = None) -> Tensor:
    idx = t.long().unsqueeze(dim).expand_as(z.narrow(dim, 0, 1))
    return torch.softmax(z, dim).scatter_add_(dim, idx, torch.full(idx.shape, -1.0, dtype=z.dtype, device=z.device))


def _ce_per_sample(z: Tensor, t: Tensor, dim: int) -> Tensor:
    idx = t.long().unsqueeze(dim).expand_as(z.narrow(dim, 0, 1))
    return -torch.log_softmax(z, dim).gather(dim, idx).squeeze(dim)


def _bce_metric_target(t: Tensor) -> Tensor:
    """(2, ...): the sign 1 - 2t of each logit in its loss, and t."""
    return torch.stack([1 - 2 * t, t])


def _bce_metrics_into(z: Tensor, st: Tensor, out: Tensor) -> None:
    """BCE with logits is softplus(z) - t z = softplus(z (1 - 2t)) for t in {0, 1}: two passes, not five."""
    z = z.select(1, 0)
    torch.mul(z, st[0], out=out[0])
    aten.softplus.out(out[0], 1, 20, out=out[0])
    torch.gt(z, 0, out=out[1])                 # the predicted class, 0 or 1: compared into floats, 3x faster than
    torch.eq(out[1], st[1], out=out[1])        # into bools then converted (K = 32)


def _ce_metrics_into(z: Tensor, t: Tensor, out: Tensor) -> None:
    t = t.expand(z.shape[0], -1)
    out[0].copy_(_ce_per_sample(z, t, 1))
    torch.eq(z.argmax(1), t, out=out[1])


LOSSES: dict[str, Loss] = {
    "bce": Loss(lambda n_classes: 1, _bce_probs,
                lambda z, dim: (_sel(z, dim) > 0).long(),
                lambda z, t, dim: F.binary_cross_entropy_with_logits(_sel(z, dim), t.to(z.dtype).expand_as(_sel(z, dim)),
                                                                     reduction="none"),
                _bce_grad,
                True, nn.BCEWithLogitsLoss, True, "one logit, sigmoid: two classes", _bce_metrics_into,
                _bce_metric_target),
    "ce": Loss(lambda n_classes: n_classes, lambda z, dim: torch.softmax(z, dim),
               lambda z, dim: z.argmax(dim), _ce_per_sample, _ce_grad,
               False, nn.CrossEntropyLoss, False, "one logit per class, softmax", _ce_metrics_into,
               lambda t: t),
}


def output_width(loss: str, n_classes: int) -> int:
    """Logits per sample of this loss for n_classes."""
    return LOSSES[loss].width(n_classes)


def target_dtype(loss: str, dtype: torch.dtype) -> torch.dtype:
    """dtype of the targets: the float dtype of the run, or int64 class indices."""
    return dtype if LOSSES[loss].float_target else torch.long
