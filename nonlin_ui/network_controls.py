"""Playground sidebar parts for what goes into the network and how it is held back: input features (2-D
data) or input columns (tables), widths per hidden layer, L1 / L2 penalties and weight decay."""
from __future__ import annotations

import streamlit as st

from nonlin_core import features
from nonlin_core.config import RunConfig

RATE_STEPS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)


def state_of(config: RunConfig) -> dict:
    """Widget state for a config (the Playground's _state_of adds it)."""
    picked = list(features.parse(config.features))
    return {"pg_features": picked or list(features.RAW_2D), "pg_columns": picked or None,
            "pg_widths": ",".join(map(str, config.hidden_layers)), "pg_widths_error": "",
            "pg_l1": config.l1, "pg_l2": config.l2, "pg_wd": config.weight_decay}


def feature_controls(sb, planar: bool, columns: tuple[str, ...]) -> str | None:
    """The config's `features` from toggles (2-D data) or a column pick (tables); None (with a message) for
    an empty pick."""
    s = st.session_state
    if planar:
        sb.pills("Input features", list(features.FEATURES), key="pg_features", selection_mode="multi",
                 help="what the network sees: x1, x2 and functions of them (TF Playground's inputs)")
        picked = [f for f in features.FEATURES if f in (s.pg_features or [])]
    else:
        if not s.get("pg_columns") or not set(s.pg_columns) <= set(columns):
            s.pg_columns = list(columns)
        sb.multiselect("Input columns", list(columns), key="pg_columns",
                       help="the columns the network sees (all of them by default)")
        picked = [c for c in columns if c in s.pg_columns]
        if picked == list(columns):
            return ""
    if not picked:
        sb.warning("Pick at least one input " + ("feature." if planar else "column."))
        return None
    return ",".join(picked)


def _with(value: float) -> list[float]:
    return sorted(set(RATE_STEPS) | {value})


def uniform_widths() -> None:
    """on_change of the depth and width sliders: one width for every layer."""
    s = st.session_state
    s.pg_hidden_custom = None
    s.pg_widths, s.pg_widths_error = ",".join([str(s.pg_width)] * s.pg_depth), ""


def parse_widths(text: str, max_depth: int, max_width: int) -> tuple[int, ...]:
    """'8, 4, 2' -> (8, 4, 2); ValueError with a message a user can act on."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"Widths per layer: {text!r} is not a list of whole numbers like 8,4,2")
    widths = tuple(int(p) for p in parts)
    if len(widths) > max_depth:
        raise ValueError(f"Widths per layer: {len(widths)} layers, above the server's {max_depth}")
    bad = [w for w in widths if not 1 <= w <= max_width]
    if bad:
        raise ValueError(f"Widths per layer: {bad[0]} is outside 1..{max_width}")
    return widths


def _widths_typed(max_depth: int, max_width: int) -> None:
    s = st.session_state
    try:
        widths = parse_widths(s.pg_widths, max_depth, max_width)
    except ValueError as exc:
        s.pg_widths_error = str(exc)
        return
    s.pg_widths_error = ""
    s.pg_depth, s.pg_width = len(widths), widths[0] if widths else s.pg_width
    s.pg_hidden_custom = list(widths) if len(set(widths)) > 1 else None


def width_controls(sb, max_depth: int, max_width: int) -> bool:
    """A text field of widths per layer beside the sliders; False (with the message) while it is not valid."""
    s = st.session_state
    s.setdefault("pg_widths", ",".join([str(s.pg_width)] * s.pg_depth))
    sb.text_input("Widths per layer", key="pg_widths", on_change=_widths_typed, args=(max_depth, max_width),
                  help="one width per hidden layer, input side first, e.g. 8,4,2 (empty: no hidden layer)")
    if s.get("pg_widths_error"):
        sb.error(s.pg_widths_error)
        return False
    return True


def regularization_controls(sb) -> dict:
    """L1, L2 and weight decay -> the config's l1, l2 and weight_decay."""
    s = st.session_state
    fmt = lambda v: "off" if v == 0 else f"{v:g}"
    sb.select_slider("L1 penalty", _with(s.pg_l1), key="pg_l1", format_func=fmt,
                     help="adds l1·Σ|w| over the weights (not biases) to the loss: pushes weights to exactly 0")
    sb.select_slider("L2 penalty", _with(s.pg_l2), key="pg_l2", format_func=fmt,
                     help="adds l2·Σw²/2 over the weights (not biases) to the loss: keeps weights small")
    sb.select_slider("Weight decay", _with(s.pg_wd), key="pg_wd", format_func=fmt,
                     help="the optimizer's weight decay (every parameter; decoupled for adamw)")
    return {"l1": s.pg_l1, "l2": s.pg_l2, "weight_decay": s.pg_wd}
