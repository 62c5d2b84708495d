"""Shared links: query-string helpers for the specs of multi-model pages (lists of values, a view's options)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import FIELD_BY_NAME, ConfigError, RunConfig

VIEW_PARAMS = ("present", "hide")          # projector options: kept in every page's link, never a config field


def join(values) -> str:
    """(0.1, 1.0) -> '0.1,1.0': a list in a link."""
    return ",".join(f"{v!r}" if isinstance(v, float) else str(v) for v in values)


def split(params: dict[str, str], name: str, kind: Callable[[str], Any], default: tuple = ()) -> tuple:
    """The list param `name` parsed item by item with kind; ConfigError naming the param when an item is bad."""
    text = params.get(name)
    if text is None:
        return default
    try:
        return tuple(kind(p) for p in text.replace(" ", "").split(",") if p != "")
    except (ValueError, TypeError):
        raise ConfigError(f"{name}: {text!r} is not a comma-separated list of valid values") from None


def whole(params: dict[str, str], name: str, low: int, high: int, default: int) -> int:
    """The integer param `name` in low..high; ConfigError naming it otherwise."""
    text = params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is outside {low}..{high}")
    return value


def choice(name: str, allowed) -> Callable[[str], str]:
    """A parser for split(): the item must be one of allowed."""
    def parse(text: str) -> str:
        if text not in allowed:
            raise ConfigError(f"{name}: {text!r} is not one of {', '.join(map(str, allowed))}")
        return text
    return parse


def base_query(config: RunConfig) -> dict[str, str]:
    """A base config's differences from the defaults (the page-specific params come on top)."""
    return config.to_query()


def base_from_query(params: dict[str, str]) -> RunConfig:
    """The base config of a link: its config fields only, within the server caps."""
    return RunConfig.from_query({k: v for k, v in params.items() if k in FIELD_BY_NAME})


def hidden_controls(params: dict[str, str]) -> frozenset[str]:
    """`hide=optimizer,lr`: config fields a teacher's link fixes (their controls are not drawn)."""
    names = split(params, "hide", str)
    unknown = [n for n in names if n not in FIELD_BY_NAME]
    if unknown:
        raise ConfigError(f"hide: {', '.join(unknown)} is not a setting (one of {', '.join(FIELD_BY_NAME)})")
    return frozenset(names)


def truthy(params: dict[str, str], name: str) -> bool:
    """?present=1 / true / yes."""
    return params.get(name, "").lower() in ("1", "true", "yes", "on")
