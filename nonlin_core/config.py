"""RunConfig: one frozen dataclass = one run. A single field table drives validation,
dict/JSON, CLI flags and URL query params; the key is a hash of the canonical JSON."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A config value is out of range or of the wrong kind; the message names the field."""


def cap(name: str, default: int) -> int:
    """Server cap from env var NONLIN_MAX_<NAME>, falling back to default."""
    raw = os.environ.get(f"NONLIN_MAX_{name.upper()}", "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise ConfigError(f"env NONLIN_MAX_{name.upper()}={raw!r} is not an integer") from None


CAP_DEFAULTS = {"samples": 20_000, "epochs": 5_000, "depth": 8, "width": 256, "batch": 4096, "classes": 10}


def caps() -> dict[str, int]:
    """The server caps in force (read from the environment each call)."""
    return {k: cap(k, v) for k, v in CAP_DEFAULTS.items()}


@dataclass(frozen=True)
class Field:
    name: str
    kind: type                       # int, float, str, bool or tuple (of ints)
    help: str
    choices: Callable[[], list[str]] | None = None
    low: float | None = None         # inclusive
    high: Callable[[], float] | float | None = None  # inclusive; callable = server cap


def _datasets() -> list[str]:
    from .datasets import DATASETS
    return sorted(DATASETS)


def _activations() -> list[str]:
    from .models import ACTIVATIONS
    return list(ACTIVATIONS)


FIELDS: tuple[Field, ...] = (
    Field("dataset", str, "dataset name (see `datasets`), or 'csv'", _datasets),
    Field("n_samples", int, "samples generated (toy datasets)", None, 20, lambda: cap("samples", CAP_DEFAULTS["samples"])),
    Field("noise", float, "noise of the generator", None, 0.0, 2.0),
    Field("n_classes", int, "classes (spiral arms / blobs)", None, 2, lambda: cap("classes", CAP_DEFAULTS["classes"])),
    Field("data_seed", int, "seed of data generation and split", None, 0, 2**31 - 1),
    Field("test_size", float, "test share of the data", None, 0.05, 0.9),
    Field("standardize", bool, "scale features (fitted on train)"),
    Field("csv_path", str, "CSV file (dataset 'csv')"),
    Field("csv_sha256", str, "content hash of the CSV (filled in on load)"),
    Field("target", str, "target column (dataset 'csv')"),
    Field("plot_features", tuple, "feature indices drawn by the boundary plot (default: dataset's)"),
    Field("hidden_layers", tuple, "hidden layer widths, e.g. 10,10 (empty = none)"),
    Field("activation", str, "activation of the hidden layers", _activations),
    Field("loss", str, "bce = one logit, ce = one logit per class", lambda: ["bce", "ce"]),
    Field("optimizer", str, "optimizer", lambda: ["sgd", "adam", "adamw"]),
    Field("lr", float, "learning rate", None, 1e-6, 10.0),
    Field("momentum", float, "SGD momentum", None, 0.0, 0.999),
    Field("weight_decay", float, "weight decay (L2 for sgd/adam, decoupled for adamw)", None, 0.0, 1.0),
    Field("batch_size", int, "mini-batch size (0 = full batch)", None, 0, lambda: cap("batch", CAP_DEFAULTS["batch"])),
    Field("epochs", int, "training epochs", None, 1, lambda: cap("epochs", CAP_DEFAULTS["epochs"])),
    Field("seed", int, "seed of init and shuffling", None, 0, 2**31 - 1),
    Field("device", str, "auto = cuda, then mps, then cpu", lambda: ["auto", "cpu", "cuda", "mps"]),
    Field("dtype", str, "float precision", lambda: ["float32", "float64"]),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run; same config -> same numbers."""
    dataset: str = "circles"
    n_samples: int = 1000
    noise: float = 0.03
    n_classes: int = 2
    data_seed: int = 42
    test_size: float = 0.2
    standardize: bool = False
    csv_path: str = ""
    csv_sha256: str = ""
    target: str = ""
    plot_features: tuple[int, ...] = ()
    hidden_layers: tuple[int, ...] = (10, 10)
    activation: str = "relu"
    loss: str = "bce"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 0
    epochs: int = 1000
    seed: int = 42
    device: str = "auto"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for f in FIELDS:  # coerce ints given as floats etc., so equal configs hash equally
            object.__setattr__(self, f.name, _coerce(f, getattr(self, f.name)))
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field."""
        for f in FIELDS:
            value = getattr(self, f.name)
            if f.choices and value not in f.choices():
                raise ConfigError(f"{f.name}: {value!r} is not one of {', '.join(f.choices())}")
            high = f.high() if callable(f.high) else f.high
            if f.low is not None and value < f.low:
                raise ConfigError(f"{f.name}: {value} is below the minimum {f.low:g}")
            if high is not None and value > high:
                raise ConfigError(f"{f.name}: {value} is above the {'server cap' if callable(f.high) else 'maximum'} {high:g}")
        depth, width = cap("depth", CAP_DEFAULTS["depth"]), cap("width", CAP_DEFAULTS["width"])
        if len(self.hidden_layers) > depth:
            raise ConfigError(f"hidden_layers: depth {len(self.hidden_layers)} is above the server cap {depth}")
        for w in self.hidden_layers:
            if not 1 <= w <= width:
                raise ConfigError(f"hidden_layers: width {w} is outside 1..{width} (server cap)")
        if len(self.plot_features) not in (0, 2) or len(set(self.plot_features)) != len(self.plot_features) or any(
                i < 0 for i in self.plot_features):
            raise ConfigError("plot_features: give two different feature indices, or none for the default pair")
        if self.dataset == "csv" and not (self.csv_path and self.target):
            raise ConfigError("csv: a CSV dataset needs csv_path and target")
        if self.dataset != "csv" and (self.csv_path or self.target):
            raise ConfigError(f"csv_path/target: only for dataset 'csv', not {self.dataset!r}")

    # --- round trips -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        unknown = set(data) - set(FIELD_BY_NAME)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(sorted(unknown))}")
        return cls(**{k: _coerce(FIELD_BY_NAME[k], v) for k, v in data.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def key(self) -> str:
        """Stable 16-hex-digit id: sha256 of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def within_caps(cls, **values: Any) -> RunConfig:
        """A config from values (dataclass defaults for the rest) with samples, epochs, batch, classes,
        depth and width lowered to the server caps: for presets and defaults, never for what a user typed."""
        merged = {**_DEFAULTS, **values}
        limits = caps()
        for name, key in (("n_samples", "samples"), ("epochs", "epochs"), ("batch_size", "batch"),
                          ("n_classes", "classes")):
            merged[name] = min(int(merged[name]), limits[key])
        hidden = tuple(merged["hidden_layers"])[:limits["depth"]]
        merged["hidden_layers"] = tuple(min(int(w), limits["width"]) for w in hidden)
        return cls(**merged)

    def to_query(self) -> dict[str, str]:
        """URL query params: only fields that differ from the defaults, as text."""
        return {f.name: _to_text(getattr(self, f.name)) for f in FIELDS if getattr(self, f.name) != _DEFAULTS[f.name]}

    @classmethod
    def from_query(cls, params: dict[str, str]) -> RunConfig:
        """Inverse of to_query; unknown params are ignored (URLs carry other state too)."""
        return cls(**{k: _from_text(FIELD_BY_NAME[k], v) for k, v in params.items() if k in FIELD_BY_NAME})

    def to_args(self) -> list[str]:
        """CLI arguments that rebuild this config with `python -m nonlin_core train`."""
        args: list[str] = []
        for name, text in self.to_query().items():
            f = FIELD_BY_NAME[name]
            flag = "--" + ("hidden" if name == "hidden_layers" else name.replace("_", "-"))
            if f.kind is bool:
                args.append(flag if getattr(self, name) else "--no-" + flag[2:])
            else:
                args += [flag, text]
        return args


_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(RunConfig)}


def _to_text(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _from_text(f: Field, text: str) -> Any:
    try:
        if f.kind is tuple:
            return tuple(int(p) for p in text.replace(" ", "").split(",") if p != "")
        if f.kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        return f.kind(text)
    except ValueError:
        raise ConfigError(f"{f.name}: {text!r} is not a valid {_kind_name(f)}") from None


def _coerce(f: Field, value: Any) -> Any:
    if isinstance(value, str) and f.kind is not str:
        return _from_text(f, value)
    try:
        if f.kind is tuple:
            return tuple(_int(v, f) for v in value)
        if f.kind is int:
            return _int(value, f)
        if f.kind is float:
            if isinstance(value, bool):
                raise TypeError
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ConfigError(f"{f.name}: must be a finite number")
            return value + 0.0  # -0.0 -> 0.0: equal configs must have equal keys
        if f.kind is bool and not isinstance(value, bool):
            raise TypeError
        if f.kind is str and not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{f.name}: {value!r} is not a valid {_kind_name(f)}") from None


def _int(value: Any, f: Field) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(f"{f.name}: {value!r} is not a whole number")
    return int(value)


def _kind_name(f: Field) -> str:
    return {int: "whole number", float: "number", bool: "true/false", str: "text",
            tuple: "comma-separated list of whole numbers"}[f.kind]
