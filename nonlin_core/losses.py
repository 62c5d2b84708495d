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


@dataclass(frozen=True)
class Loss:
    width: Callable[[int], int]                      # n_classes -> logits per sample
    probs: Callable[[Tensor, int], Tensor]           # (logits, dim) -> probabilities, one per class along dim
    predict: Callable[[Tensor, int], Tensor]         # (logits, dim) -> class index (int64), dim removed
    per_sample: Callable[[Tensor, Tensor, int], Tensor]   # (logits, target, dim) -> loss per sample, dim removed
    grad: Callable[[Tensor, Tensor, int], Tensor]    # (logits, target, dim) -> d(sum of per-sample loss)/d logits
    float_target: bool                               # targets as floats (else int64 class indices)
    module: Callable[[], nn.Module]                  # the textbook criterion on (n, out) logits squeezed by `squeeze`
    squeeze: bool                                    # the criterion takes logits (n,) rather than (n, out)
    blurb: str
    # (K, out, n) logits, targets (n,) or (K, n) -> per-sample loss and correctness (bool), (K, n) each: the
    # engine's metrics of every epoch, in as few passes as the loss allows
    epoch_metrics: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


def _sel(z: Tensor, dim: int) -> Tensor:
    return z.select(dim, 0)


def _bce_probs(z: Tensor, dim: int) -> Tensor:
    p = torch.sigmoid(_sel(z, dim))
    return torch.stack([1 - p, p], dim)


def _ce_grad(z: Tensor, t: Tensor, dim: int) -> Tensor:
    idx = t.long().unsqueeze(dim).expand_as(z.narrow(dim, 0, 1))
    return torch.softmax(z, dim).scatter_add_(dim, idx, torch.full(idx.shape, -1.0, dtype=z.dtype, device=z.device))


def _ce_per_sample(z: Tensor, t: Tensor, dim: int) -> Tensor:
    idx = t.long().unsqueeze(dim).expand_as(z.narrow(dim, 0, 1))
    return -torch.log_softmax(z, dim).gather(dim, idx).squeeze(dim)


def _bce_epoch_metrics(z: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """BCE with logits is softplus(z) - t z = softplus(z (1 - 2t)) for t in {0, 1}: two passes, not five."""
    z = z.select(1, 0)
    t = t.to(z.dtype)
    return F.softplus(z * (1 - 2 * t)), (z > 0) == (t > 0.5)


def _ce_epoch_metrics(z: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    t = t.expand(z.shape[0], -1)
    return _ce_per_sample(z, t, 1), z.argmax(1) == t


LOSSES: dict[str, Loss] = {
    "bce": Loss(lambda n_classes: 1, _bce_probs,
                lambda z, dim: (_sel(z, dim) > 0).long(),
                lambda z, t, dim: F.binary_cross_entropy_with_logits(_sel(z, dim), t.to(z.dtype).expand_as(_sel(z, dim)),
                                                                     reduction="none"),
                lambda z, t, dim: torch.sigmoid(z) - t.to(z.dtype).unsqueeze(dim),
                True, nn.BCEWithLogitsLoss, True, "one logit, sigmoid: two classes", _bce_epoch_metrics),
    "ce": Loss(lambda n_classes: n_classes, lambda z, dim: torch.softmax(z, dim),
               lambda z, dim: z.argmax(dim), _ce_per_sample, _ce_grad,
               False, nn.CrossEntropyLoss, False, "one logit per class, softmax", _ce_epoch_metrics),
}


def output_width(loss: str, n_classes: int) -> int:
    """Logits per sample of this loss for n_classes."""
    return LOSSES[loss].width(n_classes)


def target_dtype(loss: str, dtype: torch.dtype) -> torch.dtype:
    """dtype of the targets: the float dtype of the run, or int64 class indices."""
    return dtype if LOSSES[loss].float_target else torch.long
