"""Lessons: plain RunConfigs in one table. The circles lesson reproduces the learnpytorch.io classification
article's printed log epoch by epoch; the CLI lists the lessons and runs their presets."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nonlin_core.budget import check_request
from nonlin_core.config import ConfigError, RunConfig
from nonlin_core.lessons import LESSONS, PRESETS, preset, preset_results, verdict
from nonlin_core.training import METRICS, check_batch, train
from nonlin_core.tuning import configure_process

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = ("heart-linear", "heart-deep-linear", "heart-relu", "circles-linear", "circles-relu", "moons-linear",
            "moons-relu", "xor-linear", "xor-relu")

# learnpytorch.io "02. PyTorch Neural Network Classification", as printed there (every 100th epoch)
MODEL_3 = """\
Epoch: 0 | Loss: 0.69295, Accuracy: 50.00% | Test Loss: 0.69319, Test Accuracy: 50.00%
Epoch: 100 | Loss: 0.69115, Accuracy: 52.88% | Test Loss: 0.69102, Test Accuracy: 52.50%
Epoch: 200 | Loss: 0.68977, Accuracy: 53.37% | Test Loss: 0.68940, Test Accuracy: 55.00%
Epoch: 300 | Loss: 0.68795, Accuracy: 53.00% | Test Loss: 0.68723, Test Accuracy: 56.00%
Epoch: 400 | Loss: 0.68517, Accuracy: 52.75% | Test Loss: 0.68411, Test Accuracy: 56.50%
Epoch: 500 | Loss: 0.68102, Accuracy: 52.75% | Test Loss: 0.67941, Test Accuracy: 56.50%
Epoch: 600 | Loss: 0.67515, Accuracy: 54.50% | Test Loss: 0.67285, Test Accuracy: 56.00%
Epoch: 700 | Loss: 0.66659, Accuracy: 58.38% | Test Loss: 0.66322, Test Accuracy: 59.00%
Epoch: 800 | Loss: 0.65160, Accuracy: 64.00% | Test Loss: 0.64757, Test Accuracy: 67.50%
Epoch: 900 | Loss: 0.62362, Accuracy: 74.00% | Test Loss: 0.62145, Test Accuracy: 79.00%"""
MODEL_1 = """\
Epoch: 0   | Loss: 0.69396, Accuracy: 50.88% | Test loss: 0.69261, Test acc: 51.00%
Epoch: 100 | Loss: 0.69305, Accuracy: 50.38% | Test loss: 0.69379, Test acc: 48.00%
Epoch: 200 | Loss: 0.69299, Accuracy: 51.12% | Test loss: 0.69437, Test acc: 46.00%
Epoch: 300 | Loss: 0.69298, Accuracy: 51.62% | Test loss: 0.69458, Test acc: 45.00%
Epoch: 400 | Loss: 0.69298, Accuracy: 51.12% | Test loss: 0.69465, Test acc: 46.00%
Epoch: 500 | Loss: 0.69298, Accuracy: 51.00% | Test loss: 0.69467, Test acc: 46.00%
Epoch: 600 | Loss: 0.69298, Accuracy: 51.00% | Test loss: 0.69468, Test acc: 46.00%
Epoch: 700 | Loss: 0.69298, Accuracy: 51.00% | Test loss: 0.69468, Test acc: 46.00%
Epoch: 800 | Loss: 0.69298, Accuracy: 51.00% | Test loss: 0.69468, Test acc: 46.00%
Epoch: 900 | Loss: 0.69298, Accuracy: 51.00% | Test loss: 0.69468, Test acc: 46.00%"""
_LINE = re.compile(r"Epoch: (\d+)\s*\| Loss: ([\d.]+), Accuracy: ([\d.]+)% \| Test [Ll]oss: ([\d.]+), "
                   r"Test Acc(?:uracy|): ([\d.]+)%", re.IGNORECASE)


def parse_log(text: str) -> list[tuple[int, float, float, float, float]]:
    rows = [_LINE.fullmatch(line.strip()) for line in text.splitlines()]
    assert all(rows), text
    return [(int(m[1]), float(m[2]), float(m[3]), float(m[4]), float(m[5])) for m in rows]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    configure_process(freeze_gc=False)


@pytest.mark.parametrize(("name", "log"), [("circles-relu", MODEL_3), ("circles-linear", MODEL_1)])
def test_circles_lesson_reproduces_the_articles_printed_log(name, log):
    snap = train(preset(name))
    h = {m: snap.history[m][0] for m in METRICS}
    for epoch, loss, acc, test_loss, test_acc in parse_log(log):
        got = (h["train_loss"][epoch], 100 * h["train_acc"][epoch], h["test_loss"][epoch], 100 * h["test_acc"][epoch])
        assert got[0] == pytest.approx(loss, abs=1e-4), (epoch, got)
        assert got[1] == pytest.approx(acc, abs=0.5), (epoch, got)
        assert got[2] == pytest.approx(test_loss, abs=1e-4), (epoch, got)
        assert got[3] == pytest.approx(test_acc, abs=0.5), (epoch, got)


def test_required_presets_exist_and_every_lesson_is_a_valid_request():
    assert set(REQUIRED) <= set(PRESETS)
    assert len(LESSONS) >= 6 and all(lesson.question and lesson.options and lesson.presets for lesson in LESSONS.values())
    for lesson in LESSONS.values():
        groups = lesson.groups()
        assert sorted(c.key for g in groups for c in g) == sorted(c.key for c in lesson.configs())
        assert len(lesson.configs()) == len(lesson.presets) * lesson.seeds
        for group in groups:
            check_batch(group)                            # each group is one batched job
            for c in group:
                c.check_caps()
        check_request(groups, sweep=True)                 # within the default work budget


def test_each_lessons_verdict_is_one_of_its_options():
    for lesson in LESSONS.values():
        for fill in (0.3, 0.99):
            finals = {c.key: {"test_acc": fill + 0.001 * i} for i, c in enumerate(lesson.configs())}
            assert verdict(lesson, preset_results(lesson, finals)) in lesson.options


def test_results_wait_for_every_preset_and_average_over_seeds():
    lesson = LESSONS["xor"]
    configs = lesson.configs()
    finals = {c.key: {"test_acc": 0.5 + 0.1 * k} for k, c in enumerate(configs[:lesson.seeds])}
    results = preset_results(lesson, finals)
    assert results["xor-linear"]["mean"] == pytest.approx(0.5 + 0.1 * (lesson.seeds - 1) / 2)
    assert results["xor-linear"]["first"] == finals[configs[0].key] and results["xor-relu"]["mean"] is None
    assert verdict(lesson, results) is None


def test_the_questions_answer_follows_the_numbers():
    circles = LESSONS["circles"]
    assert circles.verdict({"circles-linear": 0.46, "circles-relu": 0.86}) == "Only circles-relu"
    assert circles.verdict({"circles-linear": 0.80, "circles-relu": 0.86}) == "Both"
    assert circles.verdict({"circles-linear": 0.46, "circles-relu": 0.70}) == "Neither"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nonlin_core", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_cli_lessons_json_lists_names_titles_and_configs():
    out = run_cli("lessons", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert [d["name"] for d in listed] == list(LESSONS)
    for d in listed:
        assert d["title"] == LESSONS[d["name"]].title
        assert {n: RunConfig.from_dict(c) for n, c in d["configs"].items()} == LESSONS[d["name"]].presets


def test_cli_train_preset_runs_it_and_other_flags_override():
    out = run_cli("train", "--preset", "xor-relu", "--epochs", "20", "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert RunConfig.from_dict(got["config"]) == PRESETS["xor-relu"].replace(epochs=20)
    alone = train(PRESETS["xor-relu"].replace(epochs=20))
    assert got["final"]["test_acc"] == alone.final[0]["test_acc"]


def test_cli_unknown_preset_is_a_usage_error_naming_the_presets():
    out = run_cli("train", "--preset", "circles-sin")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "preset: 'circles-sin' is not one of" in out.stderr and "circles-relu" in out.stderr
    with pytest.raises(ConfigError, match="preset"):
        preset("nope")


def test_the_features_lesson_a_linear_model_on_squares_separates_the_circles():
    """Lesson 7: no hidden layer, x1² and x2² as inputs: a line in the squared plane is a circle in the plane."""
    lesson = LESSONS["features"]
    acc = {name: train(config).final[0]["test_acc"] for name, config in lesson.presets.items()}
    assert acc["features-squares"] >= 0.95 and acc["features-raw"] < 0.65
    assert lesson.verdict(acc) == "Yes"
    assert all(not c.hidden_layers and c.activation == "none" for c in lesson.presets.values())
