"""A self-contained PyTorch script that reproduces a run: the data (nonlin's generator copied in, or the CSV it
names), the split and scaling, the model and its init, the textbook loop and the seeds. It imports only torch,
numpy, pandas, scikit-learn (and the standard library) and prints the final metrics as one JSON line."""
from __future__ import annotations

import inspect
import json
from pathlib import Path

from torch import nn

from . import datasets
from .config import RunConfig
from .models import ACTIVATIONS, Sin

HEADER = '''"""Reproduces nonlin run {key}: {summary}.
Run it with `python {name}`{csv_note}; it prints the final metrics as one JSON line.
Imports only torch, numpy, pandas and scikit-learn. Exported by nonlin."""
import hashlib
import json
import math

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

CONFIG = json.loads({config!r})
'''

READ_CSV = '''

def read_data(path, target):
    """Numeric feature columns and a target column -> X float64 (n, d), y class index (n,) (classes sorted as text)."""
    frame = pd.read_csv(path, sep=None, engine="python", skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    X = frame[[c for c in frame.columns if c != target]].to_numpy(dtype=np.float64)
    _, y = np.unique(frame[target].astype(str).to_numpy(), return_inverse=True)
    return X, y.astype(np.int64)
'''

BODY = '''

def derive_seed(seed, purpose):
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "big") >> 1


def split_and_scale(X, y, c):
    n_classes = int(y.max()) + 1
    if c["seeding"] == "torch":
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=c["test_size"], random_state=c["data_seed"])
    else:
        n_test = max(n_classes, round(len(y) * c["test_size"]))
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=n_test, stratify=y, random_state=c["data_seed"])
    mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    if c["standardize"]:
        mean, scale = X_tr.mean(axis=0), X_tr.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    return (X_tr - mean) / scale, y_tr, (X_te - mean) / scale, y_te, n_classes


def build_model(n_in, n_out, c, dtype):
    """Linear -> activation -> ... -> Linear; nn.Linear's default init (U(+-1/sqrt(fan_in))) from the run's seed."""
    widths = [n_in, *c["hidden_layers"], n_out]
    if c["seeding"] == "torch":
        torch.manual_seed(c["seed"])
    gen = torch.Generator().manual_seed(derive_seed(c["seed"], "init"))
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        linear = nn.Linear(fan_in, fan_out)      # torch seeding: this draws the weights from the global RNG
        if c["seeding"] != "torch":
            bound = 1 / math.sqrt(fan_in)
            with torch.no_grad():
                linear.weight.uniform_(-bound, bound, generator=gen)
                linear.bias.uniform_(-bound, bound, generator=gen)
        layers.append(linear.to(dtype))
        if i < len(c["hidden_layers"]):
            layers.append(ACTIVATION())
    return nn.Sequential(*layers)


def make_optimizer(params, c):
    if c["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"])
    cls = torch.optim.Adam if c["optimizer"] == "adam" else torch.optim.AdamW
    return cls(params, lr=c["lr"], weight_decay=c["weight_decay"])


def main():
    torch.set_num_threads(1)
    c = CONFIG
    dtype = torch.float64 if c["dtype"] == "float64" else torch.float32
    X, y = load_data(c)
    X_tr, y_tr, X_te, y_te, n_classes = split_and_scale(X, y, c)
    bce = c["loss"] == "bce"
    model = build_model(X.shape[1], 1 if bce else n_classes, c, dtype)
    opt = make_optimizer(model.parameters(), c)
    loss_fn = nn.BCEWithLogitsLoss() if bce else nn.CrossEntropyLoss()
    Xt, yt = torch.tensor(X_tr, dtype=dtype), torch.tensor(y_tr, dtype=dtype if bce else torch.long)
    full = c["batch_size"] == 0 or c["batch_size"] >= len(y_tr)
    shuffle_gen = None if c["seeding"] == "torch" else torch.Generator().manual_seed(derive_seed(c["seed"], "shuffle"))
    loader = None if full else DataLoader(TensorDataset(Xt, yt), batch_size=c["batch_size"], shuffle=True,
                                          generator=shuffle_gen)
    for _ in range(c["epochs"]):
        model.train()
        for xb, yb in [(Xt, yt)] if full else loader:
            logits = model(xb)
            loss = loss_fn(logits.squeeze(1) if bce else logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        result = {}
        for part, Xp, yp in (("train", X_tr, y_tr), ("test", X_te, y_te)):
            logits = model(torch.tensor(Xp, dtype=dtype))
            target = torch.as_tensor(yp)
            if bce:
                result[part + "_loss"] = float(F.binary_cross_entropy_with_logits(logits[:, 0], target.to(dtype)))
                pred = (logits[:, 0] > 0).long().numpy()
            else:
                result[part + "_loss"] = float(F.cross_entropy(logits, target))
                pred = logits.argmax(1).numpy()
            result[part + "_acc"] = float(accuracy_score(yp, pred))
        result["f1"] = float(f1_score(yp, pred, average="macro", labels=list(range(n_classes)), zero_division=0))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
'''


def _activation_source(name: str) -> str:
    """`ACTIVATION = nn.ReLU`, or the class itself where torch.nn has none (sin)."""
    module = ACTIVATIONS[name].module
    if getattr(nn, module.__name__, None) is module:
        return f"ACTIVATION = nn.{module.__name__}\n"
    assert module is Sin, name
    return inspect.getsource(Sin).replace('"""sin(x): periodic, SIREN-style."""', '"""sin(x)."""') + \
        f"\n\nACTIVATION = {module.__name__}\n"


def _data_source(config: RunConfig) -> tuple[str, str]:
    """(source defining load_data(c), note for the docstring naming the CSV the script reads)."""
    info = datasets.DATASETS[config.dataset]
    if info.make is not None:
        source = inspect.getsource(info.make)
        return (f"\n\n{source}\n\ndef load_data(c):\n    X, y = {info.make.__name__}(c['n_samples'], noise=c['noise'], "
                "seed=c['data_seed'], n_classes=c['n_classes'])\n    return X, y.astype(np.int64)\n", "")
    if config.dataset == "heart_failure":
        file, target = datasets.HEART_FILE, datasets.HEART_TARGET
    else:
        file, target = Path(config.csv_path).name, config.target
    return (READ_CSV + f"\n\ndef load_data(c):\n    return read_data({file!r}, {target!r})\n",
            f" next to {file} (the CSV it reads)")


def script_text(config: RunConfig, name: str = "train.py") -> str:
    """The script's source for this run's config (never a server path: a CSV is named by its file name)."""
    shown = config.to_dict()
    if config.dataset == "csv":
        shown["csv_path"] = Path(config.csv_path).name
    shown = {**shown, "seeding": config.seeding}
    data, csv_note = _data_source(config)
    shape = "→".join(str(w) for w in config.hidden_layers) or "no hidden layer"
    summary = (f"{config.dataset}, {shape} {config.activation}, {config.optimizer} lr {config.lr:g}, "
               f"{config.epochs} epochs")
    header = HEADER.format(key=config.key, summary=summary, name=name, csv_note=csv_note,
                           config=json.dumps(shown, sort_keys=True))
    return header + "\n" + _activation_source(config.activation) + data + BODY
