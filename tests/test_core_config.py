"""RunConfig: validation names the bad field, caps come from the environment and bound requests (not
stored configs), round trips are lossless and the key is a stable function of the config's value."""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nonlin_core.config import CAP_DEFAULTS, FIELD_BY_NAME, FIELDS, ConfigError, RunConfig, caps
from nonlin_core.datasets import DATASETS
from nonlin_core.models import ACTIVATIONS

ROOT = Path(__file__).resolve().parents[1]
CAP_VARS = [f"NONLIN_MAX_{name.upper()}" for name in CAP_DEFAULTS]


@pytest.fixture(autouse=True)
def default_caps(monkeypatch):
    """Every test starts from the built-in caps, whatever the shell exports."""
    for var in CAP_VARS:
        monkeypatch.delenv(var, raising=False)


def names_field(err: pytest.ExceptionInfo, field: str) -> bool:
    return re.search(rf"\b{re.escape(field)}\b", str(err.value)) is not None


# --- validation ----------------------------------------------------------------------------------
BAD_VALUES = [
    ("activation", {"activation": "swishy"}),
    ("dataset", {"dataset": "mnist"}),
    ("loss", {"loss": "mse"}),
    ("optimizer", {"optimizer": "rmsprop"}),
    ("device", {"device": "tpu"}),
    ("dtype", {"dtype": "float16"}),
    ("lr", {"lr": 0}),
    ("lr", {"lr": -0.1}),
    ("lr", {"lr": float("nan")}),
    ("lr", {"lr": float("inf")}),
    ("lr", {"lr": "fast"}),
    ("lr", {"lr": True}),
    ("momentum", {"momentum": 1.0}),
    ("weight_decay", {"weight_decay": -0.01}),
    ("noise", {"noise": float("-inf")}),
    ("test_size", {"test_size": 0.95}),
    ("epochs", {"epochs": 0}),
    ("epochs", {"epochs": 2.5}),
    ("n_samples", {"n_samples": 5}),
    ("n_classes", {"n_classes": 1}),
    ("batch_size", {"batch_size": -1}),
    ("seed", {"seed": -1}),
    ("data_seed", {"data_seed": 2**31}),
    ("standardize", {"standardize": "maybe"}),
    ("standardize", {"standardize": 1}),
    ("hidden_layers", {"hidden_layers": (10.5,)}),
    ("hidden_layers", {"hidden_layers": (10, 2.5)}),
    ("hidden_layers", {"hidden_layers": "10,x"}),
    ("hidden_layers", {"hidden_layers": (0,)}),
    ("hidden_layers", {"hidden_layers": (True, 3)}),
    ("plot_features", {"plot_features": (1, 1)}),
    ("plot_features", {"plot_features": (0, 1, 2)}),
    ("plot_features", {"plot_features": (-1, 0)}),
    ("csv_path", {"dataset": "csv"}),
    ("target", {"dataset": "csv", "csv_path": "data.csv"}),
    ("csv_path", {"dataset": "csv", "target": "y"}),
    ("csv_path", {"csv_path": "data.csv"}),        # a path without dataset 'csv'
]


@pytest.mark.parametrize(("field", "changes"), BAD_VALUES, ids=[f"{f}-{v}" for f, v in BAD_VALUES])
def test_bad_value_raises_config_error_naming_the_field(field, changes):
    with pytest.raises(ConfigError) as err:
        RunConfig(**changes)
    assert names_field(err, field), str(err.value)
    assert isinstance(err.value, ValueError)


def test_replace_validates_too():
    with pytest.raises(ConfigError, match=r"\blr\b"):
        RunConfig().replace(lr=0.0)


def test_from_dict_rejects_unknown_fields_by_name():
    with pytest.raises(ConfigError, match="learning_rate"):
        RunConfig.from_dict({**RunConfig().to_dict(), "learning_rate": 0.1})


def test_epochs_cap_from_environment(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "100")
    assert RunConfig(epochs=100).check_caps().epochs == 100
    with pytest.raises(ConfigError) as err:
        RunConfig(epochs=101).check_caps()
    assert names_field(err, "epochs") and "100" in str(err.value)


def test_caps_read_at_check_time(monkeypatch):
    RunConfig(epochs=CAP_DEFAULTS["epochs"]).check_caps()
    with pytest.raises(ConfigError, match=r"\bepochs\b"):
        RunConfig(epochs=CAP_DEFAULTS["epochs"] + 1).check_caps()
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", str(CAP_DEFAULTS["epochs"] * 2))
    assert RunConfig(epochs=CAP_DEFAULTS["epochs"] + 1).check_caps().epochs == CAP_DEFAULTS["epochs"] + 1
    assert caps()["epochs"] == CAP_DEFAULTS["epochs"] * 2


def test_depth_cap(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_DEPTH", "2")
    assert RunConfig(hidden_layers=(4, 4)).check_caps().hidden_layers == (4, 4)
    with pytest.raises(ConfigError) as err:
        RunConfig(hidden_layers=(4, 4, 4)).check_caps()
    assert names_field(err, "hidden_layers") and "2" in str(err.value)


def test_width_cap(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_WIDTH", "16")
    assert RunConfig(hidden_layers=(16, 3)).check_caps().hidden_layers == (16, 3)
    with pytest.raises(ConfigError) as err:
        RunConfig(hidden_layers=(3, 17)).check_caps()
    assert names_field(err, "hidden_layers") and "16" in str(err.value)


def test_a_config_over_todays_caps_is_a_valid_value_but_not_a_valid_request(monkeypatch):
    """A stored run outlives a lowered cap: building it works; asking for it anew (a link) does not."""
    stored = RunConfig(epochs=3000, n_samples=5000, hidden_layers=(64, 64, 64))
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "2000")
    monkeypatch.setenv("NONLIN_MAX_DEPTH", "2")
    back = RunConfig.from_dict(json.loads(stored.to_json()))
    assert back == stored and back.key == stored.key
    with pytest.raises(ConfigError, match="epochs: 3000 is above the server cap 2000"):
        back.check_caps()
    with pytest.raises(ConfigError, match="epochs: 3000 is above the server cap 2000"):
        RunConfig.from_query(stored.to_query())
    with pytest.raises(ConfigError, match="hidden_layers: depth 3 is above the server cap 2"):
        RunConfig.from_query(stored.replace(epochs=2000).to_query())


@pytest.mark.parametrize(("var", "field", "ok", "bad"), [
    ("NONLIN_MAX_SAMPLES", "n_samples", 300, 301),
    ("NONLIN_MAX_BATCH", "batch_size", 300, 301),
    ("NONLIN_MAX_CLASSES", "n_classes", 3, 4),
])
def test_other_caps(monkeypatch, var, field, ok, bad):
    monkeypatch.setenv(var, str(ok))
    assert getattr(RunConfig(**{field: ok}).check_caps(), field) == ok
    with pytest.raises(ConfigError, match=rf"\b{field}\b"):
        RunConfig(**{field: bad}).check_caps()


def test_non_integer_cap_names_the_variable(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "lots")
    with pytest.raises(ConfigError, match="NONLIN_MAX_EPOCHS"):
        RunConfig().check_caps()
    with pytest.raises(ConfigError, match="NONLIN_MAX_EPOCHS"):
        caps()


# --- round trips ---------------------------------------------------------------------------------
text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


def bounded(name: str):
    f = FIELD_BY_NAME[name]
    high = CAP_DEFAULTS[f.cap] if f.cap else f.high
    if f.kind is int:
        return st.integers(int(f.low), int(high))
    return st.floats(f.low, high, allow_nan=False)


@st.composite
def configs(draw) -> RunConfig:
    """Any valid RunConfig (default caps)."""
    values = {name: draw(bounded(name)) for name in (
        "n_samples", "noise", "n_classes", "data_seed", "test_size", "lr", "momentum", "weight_decay",
        "batch_size", "epochs", "seed")}
    values["dataset"] = draw(st.sampled_from(sorted(DATASETS)))
    if values["dataset"] == "csv":
        values["csv_path"], values["target"] = draw(text), draw(text)
    values["csv_sha256"] = draw(st.one_of(st.just(""), st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)))
    values["standardize"] = draw(st.booleans())
    values["plot_features"] = draw(st.one_of(
        st.just(()), st.lists(st.integers(0, 30), min_size=2, max_size=2, unique=True).map(tuple)))
    values["hidden_layers"] = draw(st.lists(st.integers(1, CAP_DEFAULTS["width"]), max_size=CAP_DEFAULTS["depth"]).map(tuple))
    for name in ("activation", "loss", "optimizer", "device", "dtype"):
        values[name] = draw(st.sampled_from(FIELD_BY_NAME[name].choices()))
    return RunConfig(**values)


@settings(max_examples=150, deadline=None)
@given(configs())
def test_dict_round_trip(config):
    data = config.to_dict()
    assert list(data) == [f.name for f in FIELDS]
    back = RunConfig.from_dict(json.loads(json.dumps(data)))
    assert back == config
    assert back.key == config.key
    assert back.to_dict() == data


@settings(max_examples=150, deadline=None)
@given(configs())
def test_query_round_trip(config):
    query = config.to_query()
    assert all(isinstance(v, str) for v in query.values())
    back = RunConfig.from_query(query)
    assert back == config
    assert back.key == config.key


@settings(max_examples=100, deadline=None)
@given(configs(), st.randoms(use_true_random=False))
def test_key_independent_of_dict_order(config, rnd):
    items = list(config.to_dict().items())
    rnd.shuffle(items)
    assert RunConfig.from_dict(dict(items)).key == config.key
    query = list(config.to_query().items())
    rnd.shuffle(query)
    assert RunConfig.from_query(dict(query)).key == config.key


@settings(max_examples=150, deadline=None)
@given(configs(), configs())
def test_key_equal_iff_configs_equal(a, b):
    assert (a.key == b.key) == (a == b)
    assert re.fullmatch(r"[0-9a-f]{16}", a.key)


def test_from_query_ignores_unknown_params():
    query = {**RunConfig(lr=0.5, hidden_layers=(3,)).to_query(), "page": "compare", "utm_source": "x", "lr_typo": "9"}
    assert RunConfig.from_query(query) == RunConfig(lr=0.5, hidden_layers=(3,))


def test_from_query_rejects_a_bad_known_param_by_name():
    with pytest.raises(ConfigError, match=r"\bhidden_layers\b"):
        RunConfig.from_query({"hidden_layers": "10,x"})
    with pytest.raises(ConfigError, match=r"\bstandardize\b"):
        RunConfig.from_query({"standardize": "perhaps"})


def test_to_query_holds_only_changed_fields():
    assert RunConfig().to_query() == {}
    assert set(RunConfig(lr=0.01, epochs=10).to_query()) == {"lr", "epochs"}


# --- the key -------------------------------------------------------------------------------------
CSV_BASE = {"dataset": "csv", "csv_path": "a.csv", "target": "y"}
ONE_CHANGE = {   # field -> (base changes, the field's other value)
    "dataset": ({}, "moons"), "n_samples": ({}, 999), "noise": ({}, 0.031), "n_classes": ({}, 3),
    "data_seed": ({}, 43), "test_size": ({}, 0.25), "standardize": ({}, True), "csv_path": (CSV_BASE, "b.csv"),
    "csv_sha256": ({}, "ab" * 32), "target": (CSV_BASE, "label"), "plot_features": ({}, (0, 1)),
    "hidden_layers": ({}, (10,)), "activation": ({}, "tanh"), "loss": ({}, "ce"), "optimizer": ({}, "adam"),
    "lr": ({}, 0.1000001), "momentum": ({}, 0.9), "weight_decay": ({}, 1e-4), "batch_size": ({}, 32),
    "epochs": ({}, 999), "seed": ({}, 43), "device": ({}, "cpu"), "dtype": ({}, "float64"),
    "seeding": ({}, "torch"), "features": ({}, "x1^2,x2^2"), "l1": ({}, 1e-4), "l2": ({}, 1e-4),
}


def test_one_change_table_covers_every_field():
    assert set(ONE_CHANGE) == set(FIELD_BY_NAME)


@pytest.mark.parametrize("field", list(ONE_CHANGE))
def test_any_field_change_changes_the_key(field):
    base_changes, other = ONE_CHANGE[field]
    base = RunConfig(**base_changes)
    changed = base.replace(**{field: other})
    assert changed != base
    assert changed.key != base.key
    assert changed.replace(**{field: getattr(base, field)}).key == base.key


def test_hidden_layer_order_matters():
    assert RunConfig(hidden_layers=(10, 5)).key != RunConfig(hidden_layers=(5, 10)).key


@pytest.mark.parametrize(("a", "b"), [
    ({"epochs": 10.0}, {"epochs": 10}),
    ({"epochs": "10"}, {"epochs": 10}),
    ({"lr": 1}, {"lr": 1.0}),
    ({"lr": "0.1"}, {"lr": 0.1}),
    ({"hidden_layers": [10, 10]}, {"hidden_layers": (10, 10)}),
    ({"hidden_layers": "10, 10"}, {"hidden_layers": (10, 10)}),
    ({"standardize": "true"}, {"standardize": True}),
    ({"momentum": -0.0}, {"momentum": 0.0}),
    ({"noise": -0.0, "weight_decay": -0.0}, {"noise": 0.0, "weight_decay": 0.0}),
])
def test_equal_configs_given_differently_have_equal_keys(a, b):
    ca, cb = RunConfig(**a), RunConfig(**b)
    assert ca == cb
    assert ca.key == cb.key
    assert hash(ca) == hash(cb)
    assert RunConfig.from_query(ca.to_query()).key == cb.key


def test_key_is_stable_across_processes():
    configs_ = [RunConfig(), RunConfig(dataset="spiral", n_classes=3, loss="ce", hidden_layers=(8, 8, 8), lr=0.003)]
    code = ("import json, sys; from nonlin_core import RunConfig; "
            "print(json.dumps([RunConfig.from_dict(d).key for d in json.load(sys.stdin)]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps([c.to_dict() for c in configs_]),
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=True)
    assert json.loads(out.stdout) == [c.key for c in configs_]


def test_key_is_the_documented_hash():
    """sha256 of the canonical JSON (sorted keys, no spaces; fields added since 0.2 left out at their default),
    first 16 hex digits."""
    config = RunConfig(hidden_layers=(4, 2), lr=0.25, standardize=True, l2=0.01)
    later = {f.name for f in FIELDS if f.since} - {"l2"}
    canonical = json.dumps({k: v for k, v in config.to_dict().items() if k not in later}, sort_keys=True,
                           separators=(",", ":"))
    assert config.key == hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_config_is_frozen_and_hashable():
    config = RunConfig()
    with pytest.raises(AttributeError):
        config.lr = 1.0  # type: ignore[misc]
    assert len({config, RunConfig(), RunConfig(lr=0.2)}) == 2


def test_choices_track_the_registries():
    assert FIELD_BY_NAME["activation"].choices() == list(ACTIVATIONS)
    assert set(FIELD_BY_NAME["dataset"].choices()) == set(DATASETS)


def test_within_caps_lowers_defaults_to_the_caps_but_a_request_is_refused(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "500")
    monkeypatch.setenv("NONLIN_MAX_WIDTH", "8")
    monkeypatch.setenv("NONLIN_MAX_DEPTH", "1")
    config = RunConfig.within_caps(epochs=600)
    assert (config.epochs, config.hidden_layers) == (500, (8,))
    with pytest.raises(ConfigError, match="epochs: 600 is above the server cap 500"):
        RunConfig(epochs=600, hidden_layers=(8,)).check_caps()
    assert RunConfig.within_caps(epochs=20, hidden_layers=(4,)).to_query()["epochs"] == "20"


def runtime_imports(path: Path) -> set[str]:
    """Modules a file imports when it runs (not those under `if TYPE_CHECKING:`)."""
    tree, skip = ast.parse(path.read_text()), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            skip |= {id(n) for n in ast.walk(node)}
    return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and id(n) not in skip}


def test_datasets_does_not_import_config_back():
    """config takes its dataset choices from datasets; datasets reads caps from limits (no import cycle)."""
    assert "datasets" in runtime_imports(ROOT / "nonlin_core" / "config.py")
    assert "config" not in runtime_imports(ROOT / "nonlin_core" / "datasets.py")
    assert "config" not in runtime_imports(ROOT / "nonlin_core" / "limits.py")
