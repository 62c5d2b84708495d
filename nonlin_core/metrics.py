"""Final metrics of a trained model: loss, accuracy, macro-F1 and confusion matrix (scikit-learn's
definitions, computed from one confusion matrix: sklearn's input checks cost ~20 ms a call)."""
from __future__ import annotations

import numpy as np
import torch

from .losses import LOSSES


def predict(logits: torch.Tensor, loss: str) -> np.ndarray:
    """Class index per row of logits (n, out)."""
    return LOSSES[loss].predict(logits, 1).cpu().numpy()


def mean_loss(logits: torch.Tensor, y: np.ndarray, loss: str) -> float:
    """Mean loss of logits (n, out) against class indices y (n,)."""
    return float(LOSSES[loss].per_sample(logits, torch.as_tensor(y, device=logits.device), 1).mean())


def final_metrics(logits: torch.Tensor, y: np.ndarray, n_train: int, loss: str, n_classes: int) -> dict:
    """logits (n, out) over [train; test] rows, y (n,) -> train/test loss and accuracy, test F1 and
    confusion matrix (rows = true class, columns = predicted)."""
    pred = predict(logits, loss)
    tr, te = slice(0, n_train), slice(n_train, None)
    confusion = confusion_counts(y[te], pred[te], n_classes)
    return {
        "train_loss": mean_loss(logits[tr], y[tr], loss),
        "test_loss": mean_loss(logits[te], y[te], loss),
        "train_acc": float(np.mean(y[tr] == pred[tr])),
        "test_acc": float(np.mean(y[te] == pred[te])),
        "f1": macro_f1(confusion),
        "confusion": confusion.tolist(),
    }


def confusion_counts(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: rows = true class, columns = predicted (sklearn's confusion_matrix)."""
    flat = np.asarray(y, dtype=np.int64) * n_classes + np.asarray(pred, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def macro_f1(confusion: np.ndarray) -> float:
    """Mean over classes of 2tp / (2tp + fp + fn), 0 where a class is neither true nor predicted
    (sklearn's f1_score(average="macro", labels=all classes, zero_division=0))."""
    tp = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(0) + confusion.sum(1)
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)))
