"""Exports of a run: a .pt with the trained weights and everything needed to use them with nonlin (config,
feature and class names, the training scaler); a .pt2 that plain torch loads; the history as CSV; figures as
standalone HTML (the reproducing script: export_script.py)."""
from __future__ import annotations

import io

import numpy as np
import torch
from torch import nn

from . import datasets, features
from .config import RunConfig
from .losses import LOSSES
from .models import load_mlp
from .store import RunRecord

FORMAT = "nonlin-model-1"


def export_bytes(record: RunRecord) -> bytes:
    """The .pt bytes of a finished run (torch.save of a plain dict; load with load_exported)."""
    if record.state_dict is None:
        raise ValueError(f"run {record.key} has no trained weights ({record.status})")
    data = datasets.load(record.config)
    payload = {"format": FORMAT, "config": record.config.to_dict(), "key": record.key,
               "state_dict": record.state_dict, "feature_names": list(data.raw_names),
               "class_names": list(data.class_names), "mean": torch.as_tensor(data.mean),
               "scale": torch.as_tensor(data.scale), "final": record.final}
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


class ExportedModel(nn.Module):
    """Raw features (n, d) in the file's units -> class probabilities (n, classes)."""

    def __init__(self, payload: dict):
        super().__init__()
        self.config = RunConfig.from_dict(payload["config"])
        self.feature_names, self.class_names = payload["feature_names"], payload["class_names"]
        dtype = torch.float64 if self.config.dtype == "float64" else torch.float32
        self.inputs = features.resolve(self.config.features, self.feature_names)   # the model's, from the raw ones
        self.mlp = load_mlp(self.config, len(self.inputs), len(self.class_names), payload["state_dict"])
        self.register_buffer("mean", payload["mean"].to(dtype))
        self.register_buffer("scale", payload["scale"].to(dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = features.compute(self.inputs, x.to(self.mean.dtype), self.feature_names)
        logits = self.mlp((x - self.mean) / self.scale)
        return LOSSES[self.config.loss].probs(logits, 1)

    def predict(self, X: np.ndarray) -> list[str]:
        """Class names for rows of raw features."""
        with torch.no_grad():
            idx = self(torch.as_tensor(np.asarray(X, dtype=np.float64))).argmax(1).tolist()
        return [self.class_names[i] for i in idx]


def load_exported(source) -> ExportedModel:
    """From a path or bytes written by export_bytes."""
    payload = torch.load(io.BytesIO(source) if isinstance(source, bytes) else source, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError("not a nonlin model file")
    return ExportedModel(payload).eval()


def model_pt2_bytes(record: RunRecord) -> bytes:
    """The trained model as a torch.export program (.pt2): raw features (n, d) float64 in the file's units ->
    class probabilities (n, classes), the training scaler inside. Loads with plain torch:
    `torch.export.load(path).module()(x)`; nothing of nonlin is needed."""
    model = load_exported(export_bytes(record))
    example = torch.zeros(3, len(model.feature_names), dtype=torch.float64)
    program = torch.export.export(model, (example,), dynamic_shapes={"x": {0: torch.export.Dim("n")}})
    buf = io.BytesIO()
    torch.export.save(program, buf)
    return buf.getvalue()


def history_csv(history: dict[str, list[float]]) -> str:
    """Per-epoch metrics as CSV: epoch, train_loss, train_acc, test_loss, test_acc (history_lists' form)."""
    columns = ("train_loss", "train_acc", "test_loss", "test_acc")
    lines = ["epoch," + ",".join(columns)]
    n = min(len(history.get(c, [])) for c in columns)
    for i in range(n):
        lines.append(f"{i + 1}," + ",".join(repr(float(history[c][i])) for c in columns))
    return "\n".join(lines) + "\n"


def figures_html(figures: list, title: str) -> str:
    """Plotly figures as one standalone HTML page (plotly.js inlined: it opens offline)."""
    from html import escape

    parts = [fig.to_html(full_html=False, include_plotlyjs=i == 0) for i, fig in enumerate(figures)]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body><h1 style='font-family:sans-serif'>{escape(title)}</h1>{''.join(parts)}</body></html>")
