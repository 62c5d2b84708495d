"""Slow views held between live redraws: while a run trains, the page redraws its boundary and curves every
0.25 s (nonlin_ui.runs.REDRAW_SECONDS), but the network diagram, the linear regions, the hidden space and the
gradient flow are rebuilt at most every HOLD_SECONDS. In between, the same figure object is drawn again: it
serialises to the same message, which Streamlit sends as a reference to the browser's cached copy (a hash, not the
figure), so a live redraw carries the boundary and the curves alone, and the server skips the diagram's forward
passes."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")
HOLD_SECONDS = 2.0


def held(name: str, key: str, live: bool, build: Callable[[], T], seconds: float | None = None) -> T:
    """build() for this view, or, while live and the same key, the one built less than `seconds` (default
    HOLD_SECONDS) ago."""
    seconds = HOLD_SECONDS if seconds is None else seconds
    views = st.session_state.setdefault("held_views", {})
    now = time.monotonic()
    entry = views.get(name)
    if live and entry is not None and entry[0] == key and now - entry[1] < seconds:
        return entry[2]
    value = build()
    views[name] = (key, now, value)
    return value


def drawn(name: str, key: str, hold: bool, drawing: Callable[[], Callable[[], None]]) -> None:
    """Draw a slow view: drawing() builds it and returns what draws it. hold (the response to a Train click: its
    fragment run and the full run after it, nonlin_ui.runs.live): the view as drawn last time, when `key` (what it
    shows: the view chosen, the data) is the same. Its charts are the same specs, which Streamlit sends as
    references to the browser's copies: the browser draws the new run's boundary first (measured: the network
    diagram and the gradient flow drawn in the same response put the first frame 0.3 s later), and the next live
    redraw brings the new run's view."""
    views = st.session_state.setdefault("drawn_views", {})
    last = views.get(name)
    if hold and last is not None and last[0] == key:
        last[1]()
        return
    draw = drawing()
    views[name] = (key, draw)
    draw()


MEMO_SIZE = 6       # finished runs' figures kept per session: going back to one is not rebuilt


def memo(name: str, key: str, build: Callable[[], T]) -> T:
    """build() once per key (a finished run's figure: it never changes), the newest MEMO_SIZE kept per session."""
    memos = st.session_state.setdefault("memo_views", {})
    entry = memos.pop((name, key), None)
    value = entry if entry is not None else build()
    memos[(name, key)] = value                  # newest last
    while len(memos) > MEMO_SIZE:
        memos.pop(next(iter(memos)))
    return value
