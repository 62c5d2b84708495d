"""Run lifecycle in a page: find a config's run (this session's, anyone's live one, or the store's),
start and stop it, show its status, and redraw it on a timer while it trains."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from streamlit.errors import StreamlitAPIException

from nonlin_core.config import ConfigError, RunConfig
from nonlin_core.errors import DataError
from nonlin_core.jobs import BusyError, JobHandle, batch_handle_key
from nonlin_core.playback import WATCH_SECONDS, metrics_text
from nonlin_core.store import FINISHED

from . import pace, resources

T = TypeVar("T")
REDRAW_SECONDS = 0.25         # a training run's page redraws this often; reruns coalesce, so a slow browser gets fewer
REDRAWS_PER_SECOND = 12.0     # ... but the server's live pages share this many redraws a second (see timer_seconds)
FIRST_SNAPSHOT_SECONDS = 0.6  # the Train click's own response waits this long for the first boundary
QUEUED_GRACE_SECONDS = 0.1    # ... unless its run is still queued after this (no free worker)
QUEUED_SECONDS = 1.0          # a queued run's status line (its place in the line) redraws this often
PAUSED_SECONDS = 1.0          # a paused run's status line checks this often whether it was resumed elsewhere
CANCEL_WAIT_SECONDS = 1.0     # a new run waits at most this long for this page's cancelled one to end
JUST_STARTED = "just_started"  # session state: the key of the run this script run started
LAB_WAIT_SECONDS = 3.0        # a Pause/Step/Reset click waits at most this long for the job to show it
CLICKED = "clicked_run"       # session state: the key of the run a Train click started, for its fragment run
FOLLOW_SECONDS = 0.3          # a Train click's fragment run waits this long before the whole page's run (see live)


def find(configs: list[RunConfig]) -> JobHandle | None:
    """The run of these configs: this session's, a live one, or a finished one served from the store."""
    key = batch_handle_key(configs)
    handle = st.session_state.handles.get(key)
    if handle is not None:
        return handle
    manager = resources.manager()
    handle = manager.get(key)
    if handle is None and all((r := manager.store.get(c.key)) is not None and r.status in FINISHED for c in configs):
        try:
            handle = manager.submit_batch(configs)      # finished: a done handle at once, no training
        except (ConfigError, DataError, BusyError):
            handle = None
    if handle is not None:
        resources.remember(handle)
    return handle


def start(configs: list[RunConfig], slot: str, *, paced: bool = False, report: bool = True) -> JobHandle | None:
    """Submit; this page's previous run of this session is stopped (a new config simply starts a new run).
    paced: shown at the watchable pace (when its switch is on). report False: a full server or a bad config
    returns None without a message (a button's callback: the script run after it tries again and says why)."""
    owner = st.session_state.owner
    previous = st.session_state.handles.get(st.session_state.get(f"run_{slot}", ""))
    current = find(configs)
    if current is not None and current.status not in ("cancelled", "failed"):
        return current
    if previous is not None and not previous.finished and previous.owner == owner:
        previous.cancel()
        previous.wait(CANCEL_WAIT_SECONDS)            # ended, it no longer counts against this session's cap
    if previous is not None:
        st.session_state[f"previous_{slot}"] = previous.key
    handle = submit_or_report(lambda: resources.manager().submit_batch(configs, owner=owner), report=report)
    if handle is None:
        return None
    resources.remember(handle)
    st.session_state[f"run_{slot}"] = handle.key
    st.session_state[JUST_STARTED] = handle.key
    if paced:
        pace.begin(handle)
    # the engine snapshots the first trained epoch at once: draw it in this response. A queued run (every worker
    # busy) is shown as queued at once: its wait is the queue's, not this click's.
    start_t = time.monotonic()
    while handle.snapshot is None and not handle.wait(0.02) and time.monotonic() < start_t + FIRST_SNAPSHOT_SECONDS:
        if handle.status == "queued" and time.monotonic() > start_t + QUEUED_GRACE_SECONDS:
            break
    return handle


def just_started(handle: JobHandle | None) -> bool:
    """Whether this script run started `handle` (a Train click's, or a changed setting's, response); asked once."""
    started = st.session_state.pop(JUST_STARTED, None)
    return handle is not None and started == handle.key


def submit_or_report(submit: Callable[[], T], *, report: bool = True) -> T | None:
    """submit(); a full server or a bad config becomes a message in the page, not a traceback (report False: None,
    no message)."""
    try:
        return submit()
    except BusyError as exc:
        if report:
            st.warning(str(exc))
    except (ConfigError, DataError) as exc:
        if report:
            st.error(str(exc))
    return None


def stoppable(handle: JobHandle | None) -> bool:
    return handle is not None and not handle.finished and handle.owner == st.session_state.owner


def stop(handle: JobHandle | None) -> None:
    if stoppable(handle):
        handle.cancel()


def controls(configs: list[RunConfig] | None, slot: str, *, lab: bool = False) -> JobHandle | None:
    """Train and Stop buttons (lab: Pause/Resume, Step +1, Step +10, Reset too); the run to show for configs
    (None when there is nothing to show)."""
    if lab:
        pace.init()
    if not configs:
        st.session_state.pop(f"configs_{slot}", None)       # no config on the page: a pill click starts nothing
    handle = find(configs) if configs else None
    new_settings = lab and bool(configs) and changed(configs, slot)
    row = st.container(horizontal=True, gap="small")
    width = "content" if lab else 110      # seven lab buttons in one row down to 1024 px wide windows
    # lab (the Playground): the click starts the run in its callback and reruns only the live fragment (the status
    # line and the charts) first (train_click)
    click = {"on_click": train_click, "args": (configs, slot)} if lab and configs else {}
    if row.button("Train", key=f"btn_{slot}_train", type="primary", disabled=not configs, width=width, **click):
        handle = start(configs, slot, paced=lab) or handle
    elif new_settings and (handle is None or handle.status in ("cancelled", "failed")):
        handle = start(configs, slot, paced=lab) or handle          # train on change: no click
    row.button("Stop", key=f"btn_{slot}_stop", on_click=stop, args=(handle,), disabled=not stoppable(handle),
               width=width)
    if lab:
        lab_buttons(row, handle, slot)
        # projector mode: the two switches go to the sidebar, so the boundary and its player fit 1280×720
        switches = st.sidebar.container() if st.session_state.get("ui_present") else \
            st.container(horizontal=True, gap="medium")
        switches.toggle("Train on change", key=f"{slot}_train_on_change",
                        help="Changing a model or data setting trains it at once (this page's previous run stops)")
        switches.toggle("Watchable pace", key=pace.TOGGLE,
                        help=f"Show a run's boundary forming over at least {WATCH_SECONDS:.0f} s, "
                             "replayed from its recording when it trains faster; off: as fast as it trains")
    return handle


def live_key(slot: str) -> str:
    """The key of a page's live fragment (the status line and the charts), for a keyed rerun of it alone."""
    return f"live_{slot}"


def train_click(configs: list[RunConfig], slot: str) -> None:
    """The lab's Train button: start the run here, then rerun only the page's live fragment, which draws its first
    frame and then reruns the whole page (live). Nothing started (the run was already there, or the server is full):
    the full run as usual, which shows it or says why."""
    handle = start(configs, slot, paced=True, report=False)
    if handle is not None and st.session_state.get(JUST_STARTED) == handle.key:
        st.session_state[CLICKED] = handle.key
        try:
            st.rerun(live_key(slot))
        except StreamlitAPIException:           # no such fragment on the page (its last run ended before it)
            st.session_state.pop(CLICKED, None)


def activation_click(slot: str) -> None:
    """An Activation pill, train on change on: the page's run with the picked activation starts here and only the
    live fragment reruns, as for a Train click (train_click, whose start finds a run already there: the page's
    script draws a run it has shown at once, nonlin_ui.live_patch). Train on change off, or nothing started: the
    full run as usual. The full run that follows builds the config from the whole sidebar again; were it another,
    it starts that one."""
    configs = st.session_state.get(f"configs_{slot}")
    if not configs or len(configs) != 1 or not st.session_state.get(f"{slot}_train_on_change"):
        return
    try:
        config = configs[0].replace(activation=st.session_state[f"{slot}_activation"])
    except ConfigError:
        return
    train_click([config], slot)


def changed(configs: list[RunConfig], slot: str) -> bool:
    """Train on change is on and configs differ from the ones this page showed last (not on a first load)."""
    st.session_state.setdefault(f"{slot}_train_on_change", True)      # on by default (set before the widget)
    key, seen = batch_handle_key(configs), f"shown_{slot}"
    last = st.session_state.get(seen)
    st.session_state[seen], st.session_state[f"configs_{slot}"] = key, configs     # (configs: activation_click)
    return last is not None and last != key and st.session_state[f"{slot}_train_on_change"]


def previous(slot: str) -> JobHandle | None:
    """The run this page showed before the current one was started (drawn dimmed until the new one's first frame)."""
    return st.session_state.handles.get(st.session_state.get(f"previous_{slot}", ""))


def _is_paused(h: JobHandle) -> bool:
    return h.status == "paused" or h.finished


def _paused_after(epoch: int, n: int) -> Callable[[JobHandle], bool]:
    return lambda h: h.finished or (h.status == "paused" and h.snapshot is not None and h.snapshot.epoch >= epoch + n)


def _went_back_from(epoch: int) -> Callable[[JobHandle], bool]:
    return lambda h: h.finished or (h.snapshot is not None and h.snapshot.epoch < epoch)


class OncePerClick:
    """Lets one call through per click: a click is (session, run, action, n, the epoch it was made at); the same
    click again within `seconds` is the same click (a second press before the first one's step has shown counts
    once, as a double-click does). Streamlit 1.67 can run a button's callback twice, in two script
    threads of one session, milliseconds apart (seen: one Step +10 trained 11 epochs, one Step +1 two)."""

    def __init__(self, seconds: float):
        self.seconds, self._lock, self._last = seconds, threading.Lock(), {}

    def first(self, click: tuple, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._last.get(click, -math.inf) < self.seconds:
                return False
            self._last = {c: t for c, t in self._last.items() if now - t < self.seconds}   # forget old clicks
            self._last[click] = now
            return True


LAB_CLICKS = OncePerClick(LAB_WAIT_SECONDS)


def lab_action(handle: JobHandle, action: str, n: int = 1) -> None:
    """Pause, resume, step n or reset this session's run, then wait (briefly) until the job shows it, so the
    page this click reruns draws the new state."""
    if not stoppable(handle):
        return
    epoch = handle.snapshot.epoch if handle.snapshot is not None else 0
    if not LAB_CLICKS.first((st.session_state.owner, handle.key, action, n, epoch)):
        return              # the same click's callback again (Streamlit ran it in two script threads)
    if action == "pause":
        handle.pause()
        handle.wait_until(_is_paused, LAB_WAIT_SECONDS)
    elif action == "resume":
        handle.resume()
        handle.wait_until(lambda h: h.status != "paused", LAB_WAIT_SECONDS)
    elif action == "step":
        handle.step(n)
        handle.wait_until(_paused_after(epoch, n), LAB_WAIT_SECONDS)
    elif action == "reset":
        handle.reset()
        handle.wait_until(_went_back_from(epoch), LAB_WAIT_SECONDS)


def lab_buttons(row, handle: JobHandle | None, slot: str) -> None:
    """Pause, Resume, Step +1, Step +10 and Reset: this session's live run only (always all drawn: buttons
    that come and go shift their neighbours, and a click can land on the one that moved)."""
    own = stoppable(handle)
    paused = own and handle.status == "paused"
    row.button("Pause", key=f"btn_{slot}_pause", on_click=lab_action, args=(handle, "pause"),
               disabled=not own or paused, width="content")   # a queued run pauses at epoch 0
    row.button("Resume", key=f"btn_{slot}_resume", on_click=lab_action, args=(handle, "resume"),
               disabled=not paused, width="content")
    for n in (1, 10):
        row.button(f"Step +{n}", key=f"btn_{slot}_step{n}", on_click=lab_action, args=(handle, "step", n),
                   disabled=not paused, width="content",
                   help=f"Train {n} more epoch{'s' if n > 1 else ''}, then pause")
    row.button("Reset", key=f"btn_{slot}_reset", on_click=lab_action, args=(handle, "reset"), disabled=not own,
               width="content", help="Start again from the untrained model (same seed)")


def status(handle: JobHandle | None, *, idle: str = "Not trained yet — press **Train**.") -> None:
    """One status line (container key 'run_status'): the state word first, then details."""
    with st.container(key="run_status"):
        if handle is None:
            st.info(idle)
            return
        snap = handle.snapshot
        epoch, epochs = (snap.epoch, snap.epochs) if snap is not None else (0, handle.configs[0].epochs)
        paced = pace.shown(handle)
        if paced is not None:
            shown = paced.epoch
            st.progress(min(shown / epochs, 1.0), text=f"Running — epoch {shown} / {epochs}"
                        f"{metrics_text(shown, snap.history)} · trained {epoch} (watchable pace)")
        elif handle.status == "queued":
            ahead = resources.manager().queued_ahead(handle)
            line = f"{ahead} job{'s' if ahead != 1 else ''} ahead of it" if ahead else "next in line"
            st.progress(0.0, text=f"Queued — {line}, waiting for a free worker…")
        elif handle.status == "running":
            st.progress(min(epoch / epochs, 1.0),
                        text=f"Running — epoch {epoch} / {epochs}{metrics_text(epoch, snap.history if snap else None)}")
        elif handle.status == "done" and snap is not None and snap.final and not any(snap.final):
            reason = next((m for m in snap.messages if m), "no run finished")
            st.error(f"Diverged — all {len(snap.final)} runs: {reason}")
        elif handle.status == "done":
            where = "from the run store" if handle.from_cache else f"in {snap.seconds:.1f} s on {snap.device}"
            problems = [m for m in (snap.messages if snap else []) if m]
            replay = " — replayed below at a watchable pace" if pace.replay_from(handle) is not None else ""
            st.success(f"Done — {epochs} epochs {where}" + (f" ({'; '.join(problems)})" if problems else "") + replay)
            if handle.from_cache:
                st.badge("from cache", icon=":material/history:", color="blue")
        elif handle.status == "diverged":
            st.error(f"Diverged — {handle.message or 'the loss became non-finite'}")
        elif handle.status == "paused":
            st.info(f"Paused at epoch {epoch} / {epochs}" + (f" — {handle.message}. Press **Train** to run it again."
                                                             if handle.finished else " — Resume, Step or Reset."))
        elif handle.status in ("cancelled", "stopped"):
            st.warning(f"Stopped — at epoch {epoch} / {epochs}: {handle.message or 'cancelled'}. "
                       "Press **Train** to run it again.")
        else:
            st.error(f"Failed — {handle.message}")


LIVE = ("queued", "running")     # a run in these draws its newest frame; paused or ended, its scrubbable time-lapse


def phase(handle: JobHandle | None) -> str:
    """'queued', 'running', 'paused' or 'idle' (no run, or it has ended): what the page's timers follow."""
    if handle is None or handle.finished:
        return "idle"
    return handle.status if handle.status in ("queued", "paused") else "running"


def trains(handle: JobHandle | None) -> bool:
    """Queued or training: the pages draw the run's newest frame (live charts, patched in place); a paused or
    ended run draws its time-lapse (a whole figure, drawn onto the same chart)."""
    return phase(handle) in LIVE


def live(handle: JobHandle | None, charts: Callable[[JobHandle | None], None], slot: str | None = None) -> None:
    """The status line and charts(handle), redrawn from the run's latest snapshot on ONE timer per page.

    While the run trains, status and charts are one fragment redrawn every REDRAW_SECONDS. While it waits
    for a worker only the status line (its place in the line) ticks, every QUEUED_SECONDS; the charts are
    drawn once: 30 waiting pages must not redraw unchanged charts and slow the training they wait for. The
    fragment reruns the whole page when the run starts (the charts go live) and when it ends (final results;
    the timer stops).

    Why one timer: two timers started together fire together, and Streamlit 1.67 can drop a whole script
    run's output when a second rerun request reaches a session whose script thread is just ending (the
    session starts a new thread and ignores the old one's messages). Seen under load as a page stuck at
    "Running" after the run had finished; one request at a time per page leaves no such pair.

    slot: the fragment has a key (live_key), and a Train click's callback (train_click) reruns it alone with the
    run it started (CLICKED): the browser draws its first frame without the whole page's ~60 elements (0.2-0.3 s
    of rendering on 2 busy cores); then the fragment reruns the whole page."""
    key = handle.key if handle is not None else ""
    pace.tick()
    drawn = phase(handle)
    # running and idle draw the charts at the same place (inside the fragment), so a run that ends, or a new
    # run after a finished one, updates the chart element in place: re-created, it left the screen for a moment
    charts_live = drawn in ("running", "idle")

    def live_view() -> None:
        pace.tick()
        clicked = st.session_state.pop(CLICKED, None)     # a Train click's run: this is its fragment run
        shown = clicked or key
        current = st.session_state.handles.get(shown) if shown else None
        if drawn != "idle" and current is not None and phase(current) != drawn:
            st.rerun()                  # the whole page draws the new phase (no "Done" above a stale chart)
        status(current)
        if charts_live:
            charts(current)
        if clicked and clicked != key:
            # then the whole page (its buttons, its timer, its results for the new run), FOLLOW_SECONDS on, so the
            # browser draws this frame first (measured on 2 busy cores: asked at once, the full run's ~60 elements came
            # before it, drawn at 0.45-0.6 s; 0.15 s on, sometimes; 0.3 s on, drawn first, at 0.19-0.29 s). Asked here,
            # not by a timer in the browser: a timer fires again until the full run reaches the page, and a request
            # that reaches the session just as a script run ends loses that run's output (see the docstring; seen: a
            # page stuck at the previous run). A run drops the messages still queued when it starts: the wait also
            # lets the server's loop send these (were they dropped, the full run draws the same frame).
            st.session_state[JUST_STARTED] = clicked      # the full run sends the slow panels as they were too
            time.sleep(FOLLOW_SECONDS)
            st.rerun()

    base = {"running": REDRAW_SECONDS, "queued": QUEUED_SECONDS, "paused": PAUSED_SECONDS}.get(drawn)
    timed_fragment(live_view, None if base is None else timer_seconds(base, len(resources.manager().active())),
                   key=live_key(slot) if slot else None)
    if not charts_live:
        charts(handle)


def timer_seconds(base: float, live_jobs: int) -> float:
    """A live page's redraw interval: `base` while few runs are live; with many (a class of 30 pressing Train), the
    server's live pages share REDRAWS_PER_SECOND, so redrawing them never starves the script runs and the
    training they wait for (measured: 30 pages at 0.3 s kept a 2-core server busy with redraws alone)."""
    return max(base, live_jobs / REDRAWS_PER_SECOND)


def timed_fragment(body: Callable[[], None], run_every: float | None, key: str | None = None) -> None:
    """body() as a fragment on a timer, inside a container of the full run: the fragment is an only child.

    Why the container: a full run's fragment deltas still unsent when a queued fragment rerun starts are
    dropped by Streamlit (the browser's timers fire during a full run; under load the server flushes late).
    The browser then clears the fragment's old block as stale and shifts its later siblings up, so the next
    fragment delta lands on an element ("'setIn' cannot be called on an ElementNode") and the page stops
    updating. As an only child nothing shifts: the fragment rerun simply draws it again."""
    with st.container():
        st.fragment(body, run_every=run_every, key=key)()
