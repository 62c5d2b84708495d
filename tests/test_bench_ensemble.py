"""The bench's peer (PyTorch's ensembling recipe) trains what the engine trains, and the bench's
command line refuses bad K and skips a device that is not there."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from bench.__main__ import MAX_K, parse_ks
from bench.ensemble import ensemble_train
from nonlin_core import RunConfig, datasets
from nonlin_core.training import Trainer


@pytest.mark.parametrize("changes", [{}, {"activation": "tanh", "optimizer": "adamw", "lr": 0.01, "weight_decay": 0.01}])
def test_recipe_history_equals_the_engine(changes):
    config = RunConfig(device="cpu", dtype="float64", epochs=20, hidden_layers=(6, 5), **changes)
    data = datasets.load(config)
    configs = [config.replace(seed=s) for s in range(3)]
    hist = ensemble_train(configs, data)
    snap = None
    for snap in Trainer(configs, dataset=data).steps(snapshot_seconds=1e9):
        pass
    for name, values in hist.items():
        assert values.shape == (3, 20)
        np.testing.assert_allclose(values.numpy(), snap.history[name], atol=1e-6, rtol=0)


def test_recipe_refuses_mini_batches():
    config = RunConfig(device="cpu", epochs=2, batch_size=32)
    with pytest.raises(ValueError, match="full batch"):
        ensemble_train([config], datasets.load(config))


def test_parse_ks():
    assert parse_ks("1,8,1024") == [1, 8, MAX_K]
    for bad in ("0", "1,x", "", f"{MAX_K + 1}", "-3"):
        with pytest.raises(argparse.ArgumentTypeError, match="whole numbers from 1 to 1024"):
            parse_ks(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here: the cuda bench would run")
def test_cuda_bench_skips_without_a_gpu():
    env = {**os.environ, "PYTHONPATH": "."}
    out = subprocess.run([sys.executable, "-m", "bench", "--device", "cuda", "--ks", "1,1024"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "no CUDA GPU here; skipped" in out.stdout


@pytest.mark.parametrize("args, message", [(["--ks", "2048"], "--ks '2048': give whole numbers from 1 to 1024"),
                                           (["--epochs", "0"], "--epochs must be at least 1"),
                                           (["--repeats", "0"], "--repeats must be at least 1"),
                                           (["--clock", "gpu"], "invalid choice: 'gpu'")])
def test_bench_usage_error_exits_2(args, message):
    env = {**os.environ, "PYTHONPATH": "."}
    out = subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert message in out.stderr


def test_batch_table_rows_are_medians_of_interleaved_runs():
    env = {**os.environ, "PYTHONPATH": "."}
    out = subprocess.run([sys.executable, "-m", "bench", "--only", "batch", "--ks", "1,3", "--epochs", "3",
                          "--repeats", "2", "--clock", "cpu"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "medians of 2 interleaved runs" in out.stdout
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.split()[:1] in (["1"], ["3"])}
    assert set(rows) == {"1", "3"} and all(float(row[5]) > 0 and row[6].endswith("x") for row in rows.values())
