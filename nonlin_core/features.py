"""Input features: the model's inputs computed from the data's raw inputs, after the split and before
scaling. The config's `features` is a comma-separated list of names; empty = the raw inputs themselves
(x1, x2 for the 2-D datasets). 2-D data: names from FEATURES (x1^2, sin(x1), ...); tables (heart failure,
CSV): column names, a pick of the raw columns in the order given. Works on numpy arrays and torch tensors."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import ConfigError, DataError


def _sin(v: Any) -> Any:
    return v.sin() if hasattr(v, "sin") else np.sin(v)


# name -> function of the raw inputs R (n, 2) -> (n,); TF Playground's INPUTS table
FEATURES: dict[str, Callable[[Any], Any]] = {
    "x1": lambda R: R[:, 0],
    "x2": lambda R: R[:, 1],
    "x1^2": lambda R: R[:, 0] ** 2,
    "x2^2": lambda R: R[:, 1] ** 2,
    "x1*x2": lambda R: R[:, 0] * R[:, 1],
    "sin(x1)": lambda R: _sin(R[:, 0]),
    "sin(x2)": lambda R: _sin(R[:, 1]),
}
RAW_2D = ("x1", "x2")


def parse(text: str) -> tuple[str, ...]:
    """'x1^2, x2^2' -> ('x1^2', 'x2^2'); '' -> ()."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def canonical(text: str, *, planar: bool) -> str:
    """The config's value: names stripped and comma-joined; on 2-D data the raw pair x1,x2 is '' (the default).
    ConfigError for a name given twice, or, on 2-D data, a name not in FEATURES (naming the allowed ones)."""
    names = parse(text)
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"features: {name!r} is given twice")
        if planar and name not in FEATURES:
            raise ConfigError(f"features: {name!r} is not one of {', '.join(FEATURES)}")
    return "" if planar and names == RAW_2D else ",".join(names)


def resolve(text: str, input_names: Sequence[str]) -> tuple[str, ...]:
    """The model inputs' names for data with these raw inputs; DataError naming the allowed ones."""
    names = parse(text)
    if not names:
        return tuple(input_names)
    allowed = list(FEATURES) if tuple(input_names) == RAW_2D else list(input_names)
    for name in names:
        if name not in allowed:
            raise DataError(f"features: {name!r} is not one of {', '.join(allowed)}")
    return names


def compute(names: Sequence[str], R: Any, input_names: Sequence[str]) -> Any:
    """Raw inputs R (n, d_raw) -> model inputs (n, len(names)), numpy or torch like R; () = R itself."""
    if not names or tuple(names) == tuple(input_names):
        return R
    cols = [R[:, list(input_names).index(n)] if n in input_names else FEATURES[n](R) for n in names]
    if isinstance(R, np.ndarray):
        return np.stack(cols, axis=1)
    import torch
    return torch.stack(cols, dim=1)


def width(text: str, n_raw: int) -> int:
    """Model inputs of a config's `features` on data with n_raw raw inputs."""
    return len(parse(text)) or n_raw
