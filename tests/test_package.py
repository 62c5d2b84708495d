"""The package: one version, a lock inside the declared ranges, and `pip install .` in a fresh venv giving a
working `nonlin` command (version, train, the packaged data, runs, and `nonlin ui` serving the installed pages)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import nonlin_core
from bench.server import free_port

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NOT_SHIPPED = shutil.ignore_patterns(".venv", ".git", "artifacts", "__pycache__", "build", "*.egg-info", ".pytest_cache",
                                     ".ruff_cache", "*.sqlite3*", ".nonlin-data")


def pins(path: Path) -> dict[str, str]:
    """name -> exact version of a lock file (every requirement line must be name==version)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.+-]*)", line)
            assert match, f"{path.name}: {line!r} is not an exact pin"
            out[match[1].lower().replace("_", "-")] = match[2]
    return out


def test_one_version_everywhere():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nonlin_core.__version__"}
    assert re.search(rf"^## {re.escape(nonlin_core.__version__)}\b", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert "MIT License" in (ROOT / "LICENSE").read_text()


@pytest.mark.parametrize(("lock", "groups"), [("requirements.txt", ["runtime"]),
                                              ("requirements-dev.txt", ["runtime", "dev", "ray"])])
def test_locks_pin_every_declared_package_inside_its_range(lock, groups):
    locked = pins(ROOT / "requirements.txt") | pins(ROOT / lock)
    declared = {"runtime": PYPROJECT["project"]["dependencies"],
                "dev": PYPROJECT["project"]["optional-dependencies"]["dev"],
                "ray": PYPROJECT["project"]["optional-dependencies"]["ray"]}
    for group in groups:
        for spec in map(Requirement, declared[group]):
            name = spec.name.lower()
            assert name in locked, f"{lock} does not pin {name}"
            assert spec.specifier.contains(locked[name], prereleases=True), f"{name}=={locked[name]} is outside {spec}"


def test_the_lock_is_the_tested_streamlit_and_torch():
    locked = pins(ROOT / "requirements.txt")
    assert locked["torch"] == "2.13.0" and locked["streamlit"].startswith("1.67.")
    assert {"scipy", "plotly", "pandas", "scikit-learn", "numpy"} <= set(locked)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"nonlin ui exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)                               # polling the health endpoint
    pytest.fail(f"nonlin ui was not healthy within {timeout:.0f} s")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_pip_install_in_a_fresh_venv_gives_a_working_nonlin(tmp_path):
    source, venv, work = tmp_path / "src", tmp_path / "venv", tmp_path / "elsewhere"
    shutil.copytree(ROOT, source, ignore=NOT_SHIPPED)     # no build/ or egg-info left in the checkout
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)   # no system site-packages
    pip = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", source / "requirements.txt",
                          str(source)], capture_output=True, text=True, timeout=1100)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NONLIN_STORE", "VIRTUAL_ENV")}
    env.update(NONLIN_DATA_DIR=str(tmp_path / "data"), OMP_NUM_THREADS="1")
    nonlin = str(venv / "bin" / "nonlin")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([nonlin, *args], capture_output=True, text=True, cwd=work, env=env, timeout=300)

    where = subprocess.run([venv / "bin" / "python", "-c", "import nonlin_core, nonlin_ui; print(nonlin_core.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr     # the installed copy
    assert run("--version").stdout.strip() == f"nonlin {nonlin_core.__version__}"
    out = run("train", "--json", "--epochs", "50", "--save")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "done" and len(result["history"]["epoch"]) == 50
    heart = run("train", "--json", "--dataset", "heart_failure", "--standardize", "--hidden", "5", "--epochs", "20")
    assert heart.returncode == 0 and json.loads(heart.stdout)["status"] == "done", heart.stderr   # packaged data
    runs = json.loads(run("runs", "--json").stdout)
    assert [r["key"] for r in runs] == [result["key"]]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(tmp_path / "ui.log", "w") as log:
        proc = subprocess.Popen([nonlin, "ui", "--port", str(port), "--server.scriptHealthCheckEnabled", "true"],
                                cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(url, proc)
        with urllib.request.urlopen(url + "/_stcore/script-health-check", timeout=120) as resp:   # runs app.py
            assert resp.read() == b"ok"
        with urllib.request.urlopen(url + "/", timeout=10) as resp:
            assert b"<div id=\"root\">" in resp.read()
        served = (tmp_path / "ui.log").read_text()
        command = open(f"/proc/{proc.pid}/cmdline").read().split("\0")
        assert str(venv) in command[4] and command[4].endswith("nonlin_app/app.py"), (command, served)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
