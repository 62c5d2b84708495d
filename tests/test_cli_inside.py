"""`train --features/--l1/--l2` as a user types them (a real subprocess), and gradient norms in the JSON."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def nonlin(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "NONLIN_DATA_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "nonlin_core", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_linear_model_on_squared_features_separates_circles(tmp_path):
    done = nonlin("train", "--dataset", "circles", "--features", "x1^2,x2^2", "--hidden", "", "--activation", "none",
                  "--json", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["final"]["test_acc"] >= 0.95
    assert out["config"]["features"] == "x1^2,x2^2" and out["config"]["hidden_layers"] == []
    norms = out["history"]["grad_norm"]                     # one layer (inputs -> logit), one value per epoch
    assert len(norms) == 1 and len(norms[0]) == len(out["history"]["epoch"]) == out["config"]["epochs"]
    assert all(v > 0 for v in norms[0]) and norms[0][-1] < norms[0][0]
    assert out["units"] == {"saturated": [], "dead": []}


def test_unknown_feature_exits_2_naming_the_allowed_ones(tmp_path):
    bad = nonlin("train", "--dataset", "circles", "--features", "x1^3", "--json", tmp_path=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "features: 'x1^3' is not one of x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2)" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_unknown_column_of_a_table_exits_2_naming_the_columns(tmp_path):
    bad = nonlin("train", "--dataset", "heart_failure", "--features", "age,height", tmp_path=tmp_path)
    assert bad.returncode == 2 and "features: 'height' is not one of age, " in bad.stderr
    assert "Traceback" not in bad.stderr


def test_l1_l2_flags_reach_the_run_and_bad_rates_exit_2(tmp_path):
    done = nonlin("train", "--dataset", "moons", "--hidden", "8,4", "--activation", "tanh", "--epochs", "30",
                  "--l1", "0.001", "--l2", "0.01", "--json", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["config"]["l1"] == 0.001 and out["config"]["l2"] == 0.01
    assert [len(layer) for layer in out["history"]["grad_norm"]] == [30, 30, 30]
    assert len(out["units"]["saturated"]) == 2 and all(0 <= s <= 1 for s in out["units"]["saturated"])
    bad = nonlin("train", "--l2", "-1", tmp_path=tmp_path)
    assert bad.returncode == 2 and "l2: -1.0 is below the minimum 0" in bad.stderr
