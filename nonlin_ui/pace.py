"""Watchable pace: a run this page starts is shown over at least playback.WATCH_SECONDS, its frames taken
from the run's recording (the time-lapse) while the training is ahead of that pace, so a run that trains in
1 s still shows its boundary forming; off, a run is shown as fast as it trains. A run from the store shows at once.

The pace is per session: {run key: the monotonic time its Train (or change) started it}. While the run trains,
the page's live timer draws the paced frame. Once it has finished, the rest plays in the browser: the finished
run's time-lapse figure, its slider at the paced frame, started by a small script that presses its Play button
(its Play plays the whole run in WATCH_SECONDS, so the rest takes what is left of them): no server message per frame,
however busy the server is."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from nonlin_core import playback
from nonlin_core.jobs import JobHandle
from nonlin_core.timelapse import frame_epochs
from nonlin_core.training import METRICS

from . import cursor

TOGGLE = "pg_watchable_pace"          # the switch's widget key (pg_: kept across pages)
STARTED = "paced_runs"                # session state: {run key: start time}
REPLAYS = "paced_replays"             # session state: {run key: the frame its browser replay starts from}
SECONDS = playback.WATCH_SECONDS

# presses the Play button of the boundary figure whose layout.meta.autoplay is this run's key, once per page
AUTOPLAY = """<script>(() => {
  const key = RUN_KEY, played = window.__nonlinAutoplayed = window.__nonlinAutoplayed || {};
  if (played[key]) return;
  const t0 = performance.now();
  const press = () => {
    const gd = VISIBLE('BOUNDARY');                  // the one on screen (not a hidden copy of an old one)
    const meta = gd && gd.layout && gd.layout.meta;
    const play = gd && Array.from(gd.querySelectorAll('.updatemenu-button'))
      .find((b) => (b.textContent || '').includes('Play'));
    if (meta && meta.autoplay === key && play) {
      played[key] = true;
      play.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    } else if (performance.now() - t0 < 30000) setTimeout(press, 50);
  };
  press();
})();</script>""".replace("VISIBLE(", cursor.VISIBLE + "(").replace("BOUNDARY", cursor.BOUNDARY)


@dataclass(frozen=True)
class Shown:
    """The recorded frame a paced run shows now."""
    index: int                      # into snapshot.timelapse
    epoch: int
    probs: np.ndarray               # (classes, G, G) of member 0


def init() -> None:
    """The switch is on by default (set before its widget is drawn)."""
    st.session_state.setdefault(TOGGLE, True)


def on() -> bool:
    return bool(st.session_state.get(TOGGLE, True))


def begin(handle: JobHandle) -> None:
    """Pace this run from now (this page started it); only the newest run of a session is paced."""
    st.session_state[STARTED] = {handle.key: time.monotonic()}
    st.session_state[REPLAYS] = {}


def tick() -> None:
    """Freeze the pace's clock for this script run: the status line and the charts show the same frame."""
    st.session_state["pace_clock"] = time.monotonic()


def _behind(handle: JobHandle | None) -> int | None:
    """Index of the recorded frame the pace shows now; None when the run is shown as it is (not paced by this
    page, the switch off, paused or ended badly, or the pace has caught up with the recording)."""
    started = st.session_state.get(STARTED, {}).get(handle.key) if handle is not None else None
    snap = handle.snapshot if started is not None else None
    if snap is None or not on() or handle.status not in ("running", "done") or not snap.timelapse or \
            not snap.timelapse.epochs:
        return None
    schedule = frame_epochs(snap.epochs)
    clock = st.session_state.get("pace_clock", time.monotonic())
    epoch = schedule[playback.paced_index(len(schedule), clock - started, SECONDS)]
    recorded = snap.timelapse.epochs
    if epoch >= recorded[-1]:
        return None
    return int(np.searchsorted(recorded, epoch, side="right")) - 1


def shown(handle: JobHandle | None) -> Shown | None:
    """While the run trains: the recorded frame the pace shows now (None: show the newest)."""
    index = _behind(handle) if handle is not None and not handle.finished else None
    if index is None:
        return None
    timelapse = handle.snapshot.timelapse
    return Shown(index, timelapse.epochs[index], timelapse.probabilities(index)[0])


def replay_from(handle: JobHandle | None) -> int | None:
    """A finished run the pace has not caught up with: the frame its browser replay starts from (fixed at the
    first draw, so redraws send the same figure); None once the pace is over."""
    if handle is None or not handle.finished:
        return None
    replays = st.session_state.setdefault(REPLAYS, {})
    index = _behind(handle)
    if index is None:
        replays.pop(handle.key, None)
        return None
    return replays.setdefault(handle.key, index)


def autoplay(handle: JobHandle) -> None:
    """The script that starts the replay in the browser (it runs once per run and page)."""
    st.html(AUTOPLAY.replace("RUN_KEY", json.dumps(handle.key)), unsafe_allow_javascript=True)


def history_until(history: dict[str, np.ndarray], epoch: int) -> dict[str, np.ndarray]:
    """The metrics (K, T) of the first `epoch` epochs."""
    return {m: history[m][:, :epoch] for m in METRICS}
