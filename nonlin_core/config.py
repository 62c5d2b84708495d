"""RunConfig: one frozen dataclass = one run. A single field table drives validation,
dict/JSON, CLI flags and URL query params; the key is a hash of the canonical JSON."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .features import canonical as canonical_features
from .limits import CAP_DEFAULTS, cap, caps

__all__ = ["CAP_DEFAULTS", "FIELDS", "FIELD_BY_NAME", "ROLES", "ConfigError", "Field", "RunConfig", "cap", "caps",
           "fields_with_role"]

ROLES = ("data", "shape", "member", "schedule", "system")


@dataclass(frozen=True)
class Field:
    """One config field. role: data (what is trained on: the data key), shape (the network's layout), member
    (may differ between the members of one batch), schedule (how long and in what steps), system (where and in
    what precision). flag: the CLI flag (None: --name-with-dashes; "": none, set another way). since: the version
    that added the field; such a field is left out of the canonical JSON, and so of the key, while it holds its
    default, so the keys of runs stored before it existed stay the same. Every field added from 0.3 on has one."""
    name: str
    kind: type                       # int, float, str, bool or tuple (of ints)
    help: str
    choices: Callable[[], list[str]] | None = None
    low: float | None = None         # inclusive
    high: float | None = None        # inclusive, fixed
    cap: str = ""                    # the server cap (limits.CAP_DEFAULTS key) bounding what a user may ask for
    role: str = "data"
    flag: str | None = None
    since: str = ""

    @property
    def cli_flag(self) -> str:
        """The train command's flag ('' = none)."""
        return "--" + self.name.replace("_", "-") if self.flag is None else self.flag


def _datasets() -> list[str]:
    from .datasets import DATASETS  # lazily: importing scikit-learn is not needed to build a config
    return sorted(DATASETS)


def _activations() -> list[str]:
    from .models import ACTIVATIONS
    return list(ACTIVATIONS)


def _planar(dataset: str) -> bool:
    from .datasets import DATASETS
    return DATASETS[dataset].make is not None


def _losses() -> list[str]:
    from .losses import LOSSES
    return list(LOSSES)


FIELDS: tuple[Field, ...] = (
    Field("dataset", str, "dataset name (see `datasets`), or 'csv'", _datasets),
    Field("n_samples", int, "samples generated (toy datasets)", None, 20, cap="samples"),
    Field("noise", float, "noise of the generator", None, 0.0, 2.0),
    Field("n_classes", int, "classes (spiral arms / blobs)", None, 2, cap="classes"),
    Field("data_seed", int, "seed of data generation and split", None, 0, 2**31 - 1),
    Field("test_size", float, "test share of the data", None, 0.05, 0.9),
    Field("standardize", bool, "scale features (fitted on train)"),
    Field("csv_path", str, "CSV file (dataset 'csv')", flag=""),
    Field("csv_sha256", str, "content hash of the CSV (filled in on load)", flag=""),
    Field("target", str, "target column (dataset 'csv')", flag=""),
    Field("plot_features", tuple, "feature indices drawn by the boundary plot (default: dataset's)"),
    Field("features", str, "model inputs, comma-separated: on 2-D data from x1, x2, x1^2, x2^2, x1*x2, sin(x1), "
          "sin(x2); on tables, column names (empty = the raw inputs)", since="0.3"),
    Field("hidden_layers", tuple, "hidden layer widths, e.g. 10,10 (empty = none)", role="shape", flag="--hidden"),
    Field("activation", str, "activation of the hidden layers", _activations, role="member"),
    Field("loss", str, "bce = one logit, ce = one logit per class", _losses, role="shape"),
    Field("optimizer", str, "optimizer", lambda: ["sgd", "adam", "adamw"], role="schedule"),
    Field("lr", float, "learning rate", None, 1e-6, 10.0, role="member"),
    Field("momentum", float, "SGD momentum", None, 0.0, 0.999, role="member"),
    Field("weight_decay", float, "weight decay (L2 for sgd/adam, decoupled for adamw)", None, 0.0, 1.0, role="member"),
    Field("l1", float, "L1 penalty rate: l1·Σ|w| over the weights (not biases) added to the loss", None, 0.0, 1.0,
          role="member", since="0.3"),
    Field("l2", float, "L2 penalty rate: l2·Σw²/2 over the weights (not biases) added to the loss", None, 0.0, 1.0,
          role="member", since="0.3"),
    Field("batch_size", int, "mini-batch size (0 = full batch)", None, 0, cap="batch", role="schedule"),
    Field("epochs", int, "training epochs", None, 1, cap="epochs", role="schedule"),
    Field("seed", int, "seed of init and shuffling", None, 0, 2**31 - 1, role="member"),
    Field("seeding", str, "nonlin = a derived seed per use, stratified split; torch = torch.manual_seed(seed) then "
          "the layers in order and the shuffles, unstratified split (as tutorials do)", lambda: ["nonlin", "torch"],
          role="data", since="0.3"),
    Field("device", str, "auto = cuda, then mps, then cpu", lambda: ["auto", "cpu", "cuda", "mps"], role="system"),
    Field("dtype", str, "float precision", lambda: ["float32", "float64"], role="system"),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}


def fields_with_role(role: str) -> tuple[str, ...]:
    """Names of the fields with this role, in table order."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return tuple(f.name for f in FIELDS if f.role == role)


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
    features: str = ""
    hidden_layers: tuple[int, ...] = (10, 10)
    activation: str = "relu"
    loss: str = "bce"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    batch_size: int = 0
    epochs: int = 1000
    seed: int = 42
    seeding: str = "nonlin"
    device: str = "auto"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for f in FIELDS:  # coerce ints given as floats etc., so equal configs hash equally
            object.__setattr__(self, f.name, _coerce(f, getattr(self, f.name)))
        self.validate()
        object.__setattr__(self, "features", canonical_features(self.features, planar=_planar(self.dataset)))

    def validate(self) -> None:
        """Raise ConfigError naming the first bad field (fixed ranges and choices; not the server caps)."""
        for f in FIELDS:
            value = getattr(self, f.name)
            if f.choices and value not in f.choices():
                raise ConfigError(f"{f.name}: {value!r} is not one of {', '.join(f.choices())}")
            if f.low is not None and value < f.low:
                raise ConfigError(f"{f.name}: {value} is below the minimum {f.low:g}")
            if f.high is not None and value > f.high:
                raise ConfigError(f"{f.name}: {value} is above the maximum {f.high:g}")
        for w in self.hidden_layers:
            if w < 1:
                raise ConfigError(f"hidden_layers: width {w} is below the minimum 1")
        if len(self.plot_features) not in (0, 2) or len(set(self.plot_features)) != len(self.plot_features) or any(
                i < 0 for i in self.plot_features):
            raise ConfigError("plot_features: give two different feature indices, or none for the default pair")
        if self.dataset == "csv" and not (self.csv_path and self.target):
            raise ConfigError("csv: a CSV dataset needs csv_path and target")
        if self.dataset != "csv" and (self.csv_path or self.target):
            raise ConfigError(f"csv_path/target: only for dataset 'csv', not {self.dataset!r}")

    def check_caps(self) -> RunConfig:
        """Raise ConfigError where this config asks for more than the server caps allow; else return it.
        For what a user asks for (links, CLI, pages, new jobs), never for a stored run."""
        limits = caps()
        for f in FIELDS:
            if f.cap and getattr(self, f.name) > limits[f.cap]:
                raise ConfigError(f"{f.name}: {getattr(self, f.name)} is above the server cap {limits[f.cap]:g}")
        if len(self.hidden_layers) > limits["depth"]:
            raise ConfigError(f"hidden_layers: depth {len(self.hidden_layers)} is above the server cap {limits['depth']}")
        for w in self.hidden_layers:
            if w > limits["width"]:
                raise ConfigError(f"hidden_layers: width {w} is outside 1..{limits['width']} (server cap)")
        return self

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
        """Canonical JSON (the key's input): fields with `since` are left out while at their default."""
        data = {k: v for k, v in self.to_dict().items()
                if not (FIELD_BY_NAME[k].since and getattr(self, k) == _DEFAULTS[k])}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

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
        """Inverse of to_query, within the server caps (a link is a request); unknown params are ignored."""
        return cls(**{k: _from_text(FIELD_BY_NAME[k], v) for k, v in params.items() if k in FIELD_BY_NAME}).check_caps()


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
