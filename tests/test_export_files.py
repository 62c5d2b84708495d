"""Exports that need nothing of nonlin: the reproducing script (run in a subprocess, it prints the engine's final
metrics), the .pt2 model (loaded by plain torch in an isolated interpreter where nonlin is not importable), the
history CSV and the figures' HTML."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nonlin_core import datasets, plots
from nonlin_core.config import RunConfig
from nonlin_core.export import figures_html, history_csv, model_pt2_bytes
from nonlin_core.export_script import script_text
from nonlin_core.jobs import JobManager
from nonlin_core.lessons import PRESETS
from nonlin_core.models import load_mlp
from nonlin_core.store import SQLiteStore
from nonlin_core.training import train

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"torch", "numpy", "pandas", "sklearn", "hashlib", "json", "math"}


def isolated(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`python -I` in cwd with a clean environment: no PYTHONPATH, no user site, not the repository."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-I", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("config", [
    RunConfig(dataset="moons", n_samples=300, noise=0.2, batch_size=32, optimizer="adam", lr=0.01, epochs=20,
              activation="tanh"),
    RunConfig(dataset="spiral", n_classes=3, loss="ce", hidden_layers=(8,), activation="sin", epochs=60,
              standardize=True, optimizer="adamw", lr=0.01, batch_size=64, seeding="torch", n_samples=300),
    PRESETS["heart-relu"].replace(epochs=300),
], ids=["moons-minibatch", "spiral-torch-seeding", "heart-csv"])
def test_exported_script_reproduces_the_engines_final_metrics(config, tmp_path):
    text = script_text(config)
    imported = {line.split()[1].split(".")[0] for line in text.splitlines() if line.startswith(("import ", "from "))}
    assert imported <= ALLOWED, imported
    (tmp_path / "train.py").write_text(text)
    if config.dataset == "heart_failure":                  # the script reads the CSV it names, by file name
        shutil.copy(datasets.HEART_PACKAGED, tmp_path / datasets.HEART_FILE)
        assert str(datasets.HEART_PACKAGED.parent) not in text
    out = isolated(["train.py"], tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    got, engine = json.loads(lines[0]), train(config).final[0]
    for key in ("test_acc", "test_loss", "train_acc", "train_loss", "f1"):
        assert got[key] == pytest.approx(engine[key], abs=1e-4), key


def test_cli_writes_the_script(tmp_path):
    path = tmp_path / "xor.py"
    out = subprocess.run([sys.executable, "-m", "nonlin_core", "train", "--preset", "xor-relu", "--epochs", "30",
                          "--export-script", str(path), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    engine = json.loads(out.stdout)["final"]
    got = json.loads(isolated([path.name], tmp_path).stdout)
    assert got["test_acc"] == pytest.approx(engine["test_acc"], abs=1e-4)
    assert got["test_loss"] == pytest.approx(engine["test_loss"], abs=1e-4)
    bad = subprocess.run([sys.executable, "-m", "nonlin_core", "train", "--epochs", "1", "--export-script",
                          str(tmp_path / "no" / "such" / "dir.py")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--export-script: cannot write" in bad.stderr and "Traceback" not in bad.stderr


@pytest.fixture
def finished(store_path):
    manager = JobManager(SQLiteStore(store_path))

    def run(config: RunConfig):
        handle = manager.submit(config)
        assert handle.wait(300)
        return manager.store.get(config.key)
    yield run
    manager.shutdown()


LOADER = """\
import importlib.util, json, sys
import numpy as np, torch
assert importlib.util.find_spec("nonlin_core") is None, "nonlin is importable"
model = torch.export.load("model.pt2").module()
probs = model(torch.as_tensor(np.load("raw.npy")))
print(json.dumps(probs.tolist()))
"""


@pytest.mark.parametrize("config", [
    RunConfig(dataset="heart_failure", standardize=True, hidden_layers=(8,), activation="tanh", optimizer="adam",
              lr=0.01, epochs=60),
    RunConfig(dataset="spiral", n_classes=3, loss="ce", standardize=True, hidden_layers=(16,), epochs=60, optimizer="adam",
              lr=0.01),
], ids=["heart-bce", "spiral-ce"])
def test_exported_model_loads_with_plain_torch_and_predicts_as_the_app(config, finished, tmp_path):
    record = finished(config)
    (tmp_path / "model.pt2").write_bytes(model_pt2_bytes(record))
    data = datasets.load(config)
    raw = data.unscale(data.X_test)                          # raw features, in the file's units
    np.save(tmp_path / "raw.npy", raw)
    (tmp_path / "load.py").write_text(LOADER)
    out = isolated(["load.py"], tmp_path)
    assert out.returncode == 0, out.stderr
    probs = np.array(json.loads(out.stdout))
    model = load_mlp(config, data.n_features, data.n_classes, record.state_dict)   # the app's model, scaled inputs
    with torch.no_grad():
        logits = model(torch.as_tensor(data.X_test, dtype=torch.float32))
    app = torch.softmax(logits, 1) if config.loss == "ce" else torch.sigmoid(logits)
    app_probs = app.numpy() if config.loss == "ce" else np.column_stack([1 - app[:, 0].numpy(), app[:, 0].numpy()])
    np.testing.assert_allclose(probs, app_probs, atol=1e-5)
    assert (probs.argmax(1) == app_probs.argmax(1)).all()
    assert np.mean(probs.argmax(1) == data.y_test) == pytest.approx(record.final["test_acc"])


def test_history_csv_and_figures_html(finished):
    record = finished(RunConfig(epochs=25))
    rows = list(csv.DictReader(io.StringIO(history_csv(record.history))))
    assert len(rows) == 25 and rows[0]["epoch"] == "1" and rows[-1]["epoch"] == "25"
    assert float(rows[-1]["test_acc"]) == pytest.approx(record.history["test_acc"][-1])
    fig = plots.curves([("run", {k: np.array([record.history[k]]) for k in
                                 ("train_loss", "test_loss", "train_acc", "test_acc")})], epochs=25)
    html = figures_html([fig, fig], "Run <b>x</b>")
    assert html.startswith("<!DOCTYPE html>") and "Run &lt;b&gt;x&lt;/b&gt;" in html
    assert html.count("Plotly.newPlot") == 2 and "<script src=" not in html           # plotly.js inlined: opens offline
    assert len(html) > 1_000_000
