"""Final metrics of a trained model: loss, accuracy, macro-F1 and confusion matrix (scikit-learn)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

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
    labels = list(range(n_classes))
    return {
        "train_loss": mean_loss(logits[tr], y[tr], loss),
        "test_loss": mean_loss(logits[te], y[te], loss),
        "train_acc": float(accuracy_score(y[tr], pred[tr])),
        "test_acc": float(accuracy_score(y[te], pred[te])),
        "f1": float(f1_score(y[te], pred[te], average="macro", labels=labels, zero_division=0)),
        "confusion": confusion_matrix(y[te], pred[te], labels=labels).tolist(),
    }
