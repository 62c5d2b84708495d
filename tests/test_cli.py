"""The `nonlin` command (= `python -m nonlin_core`): --version, `runs` (table and JSON), `ui`'s command line, and
one-line errors for bad input or an unreadable store."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

import nonlin_core
from nonlin_core import launch
from nonlin_core.cli import main
from nonlin_core.config import RunConfig
from nonlin_core.store import RunRecord, SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
FINAL = {"train_loss": 0.1, "test_loss": 0.2, "train_acc": 0.97, "test_acc": 0.955, "f1": 0.95,
         "confusion": [[40, 2], [3, 55]]}


def stored(path: Path, *records: RunRecord) -> None:
    store = SQLiteStore(path)
    for record in records:
        store.finish(record)
    store.close()


def done_run(**fields) -> RunRecord:
    config = RunConfig(dataset="moons", epochs=40, **fields)
    return RunRecord(config.key, config, "done", "", {"epoch": [1]}, FINAL, "cpu", 0.5)


def failed_run() -> RunRecord:
    config = RunConfig(dataset="xor", hidden_layers=(), activation="none", epochs=30)
    return RunRecord(config.key, config, "failed", "heart_failure: not installed", {}, None, "cpu", 0.1)


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"], prog="nonlin")
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"nonlin {nonlin_core.__version__}" == "nonlin 0.2.0"


def test_runs_json_lists_each_stored_run(store_path, capsys):
    done, failed = done_run(seed=3), failed_run()
    stored(store_path, done, failed)
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in runs] == [failed.key, done.key]                    # newest first
    by_key = {r["key"]: r for r in runs}
    assert by_key[done.key]["status"] == "done" and by_key[done.key]["final"] == FINAL
    assert RunConfig.from_dict(by_key[done.key]["config"]) == done.config
    assert by_key[failed.key]["final"] is None and by_key[failed.key]["message"] == "heart_failure: not installed"
    for run in runs:
        assert set(run) == {"key", "status", "message", "config", "final", "created", "updated"}
        assert datetime.fromisoformat(run["created"]).utcoffset().total_seconds() == 0   # ISO 8601, UTC


def test_runs_filters_and_limits(store_path, capsys):
    stored(store_path, done_run(seed=1), done_run(seed=2), failed_run())
    main(["runs", "--json", "--status", "failed"])
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["failed"]
    main(["runs", "--json", "--limit", "2"])
    assert len(json.loads(capsys.readouterr().out)) == 2
    main(["runs", "--json", "--status", "interrupted"])
    assert json.loads(capsys.readouterr().out) == []


def test_runs_table(store_path, capsys):
    done, failed = done_run(seed=4, hidden_layers=(16, 8)), failed_run()
    stored(store_path, done, failed)
    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["key", "status"]
    row = next(line for line in lines if line.startswith(done.key))
    assert "done" in row and "moons" in row and "16,8" in row and "0.955" in row
    row = next(line for line in lines if line.startswith(failed.key))
    assert "failed" in row and " - " in row                                     # no hidden layer
    main(["runs", "--status", "cancelled"])
    assert "no stored runs with status 'cancelled'" in capsys.readouterr().out


def test_python_m_nonlin_core_runs_json(store_path):
    stored(store_path, done_run(seed=5))
    env = {**os.environ, "NONLIN_STORE": str(store_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "nonlin_core", "runs", "--json"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [r["key"] for r in json.loads(out.stdout)] == [done_run(seed=5).key]


def test_runs_survive_a_lowered_cap(store_path, monkeypatch, capsys):
    long_run = done_run(seed=6).config.replace(epochs=3000)
    stored(store_path, RunRecord(long_run.key, long_run, "done", "", {}, FINAL, "cpu", 1.0))
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "2000")
    assert main(["runs", "--json"]) == 0
    assert [r["config"]["epochs"] for r in json.loads(capsys.readouterr().out)] == [3000]


@pytest.mark.parametrize("argv", [["runs", "--limit", "0"], ["runs", "--limit", "many"], ["train", "--bogus"],
                                  ["train", "--epochs", "-5"], ["runs", "--no-such-flag"]])
def test_bad_input_is_one_line_and_exit_2(argv, store_path, capsys):
    assert main(argv, prog="nonlin") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("nonlin") and "Traceback" not in err


def test_unreadable_store_is_one_line(store_path, capsys):
    store_path.write_text("garbage\n" * 10)
    code = main(["runs"], prog="nonlin")
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code:                                        # refused: one line that says which store
        assert code == 1 and len(err.strip().splitlines()) == 1 and "run store" in err


def test_ui_command_line_carries_the_config_and_the_callers_flags(tmp_path):
    argv = launch.streamlit_argv(9000, "0.0.0.0", ["--server.maxUploadSize", "20", "--theme.base=dark",
                                                   "--logger.level", "info", "--server.runOnSave"])
    assert argv[:5] == [sys.executable, "-m", "nonlin_ui.serve", "run", str(ROOT / "app.py")]
    flags = argv[5:]
    options = dict(zip(flags[::2], flags[1::2]))
    assert len(options) * 2 == len(flags)
    assert options["--server.port"] == "9000" and options["--server.address"] == "0.0.0.0"
    assert options["--server.headless"] == "true" and options["--server.fileWatcherType"] == "none"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--runner.postScriptGC"] == "false"                         # from .streamlit/config.toml
    assert options["--server.maxUploadSize"] == "20" and options["--theme.base"] == "dark"   # the caller wins
    assert options["--logger.level"] == "info" and options["--server.runOnSave"] == "true"
    assert flags.count("--server.maxUploadSize") == 1


def test_app_dir_is_the_checkout_here():
    folder = launch.app_dir()
    assert folder == ROOT and (folder / "app.py").is_file() and (folder / "pages" / "playground.py").is_file()
