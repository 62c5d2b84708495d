"""A fix to Streamlit 1.67's outgoing message queue, installed by `nonlin ui` (serve.py) before the server starts.

The bug. A browser's queue (streamlit.runtime.forward_msg_queue.ForwardMsgQueue) holds a script run's deltas
until the event loop sends them. When a fragment run starts, `clear(fragment_ids_this_run=...)` drops the
unsent deltas of those fragments (the fragment run draws them again) and keeps the rest. A delta the browser
already has cached is queued as a *reference* message (`ref_hash` plus metadata: no delta, so no fragment id),
and clear() keeps it whatever fragment it belongs to. Dropped: the fragment's blocks; kept: a chart inside
them. The browser then puts the chart where a block was, or (when the full run's `script_finished` prunes the
older nodes) shifts it up to where the fragment run's next block goes; the fragment run's next delta lands on
an element and the browser shows "Bad message format" ("'setIn' cannot be called on an ElementNode").

Seen in bench.ws_load (30 sessions × 3 runs on 2 cores): 1-6 of 90 runs, each a Train click whose callback
reruns the live fragment (runs.train_click) while the page's previous full run was still being sent.

The fix: remember the fragment of each reference message when it is made (from the delta it stands for), and
let clear() drop a reference of a fragment that is rerunning together with that fragment's other deltas."""
from __future__ import annotations

import threading

_lock = threading.Lock()
_pending: dict[int, tuple[object, str]] = {}   # id(reference message) -> (message, its fragment), until queued
PENDING_MAX = 10_000                           # a session closed before its messages were queued leaves entries


def install() -> bool:
    """Patch Streamlit's queue and reference messages; False (nothing patched) if this Streamlit has neither."""
    try:
        from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
        from streamlit.runtime.scriptrunner_utils import script_run_context as context
    except ImportError:
        return False
    make_ref = getattr(context, "create_reference_msg", None)
    if make_ref is None or getattr(ForwardMsgQueue.clear, "nonlin_fix", False):
        return False
    enqueue, clear = ForwardMsgQueue.enqueue, ForwardMsgQueue.clear      # (flush() clears through clear())

    def create_reference_msg(msg):
        ref = make_ref(msg)
        fragment = msg.delta.fragment_id if ref is not msg and msg.HasField("delta") else ""
        if fragment:
            with _lock:
                if len(_pending) >= PENDING_MAX:
                    _pending.clear()
                _pending[id(ref)] = (ref, fragment)
        return ref

    def fixed_enqueue(self, msg) -> None:
        with _lock:
            entry = _pending.pop(id(msg), None)
        if entry is not None and entry[0] is msg:
            refs = self.__dict__.setdefault("_nonlin_ref_fragments", {})
            refs[id(msg)] = entry[1]            # the queue holds msg until it is sent or dropped: id stays its own
        enqueue(self, msg)

    def fixed_clear(self, retain_lifecycle_msgs: bool = False, fragment_ids_this_run=None) -> None:
        refs = self.__dict__.pop("_nonlin_ref_fragments", None)
        if refs and retain_lifecycle_msgs and fragment_ids_this_run:
            rerun = set(fragment_ids_this_run)
            self._queue = [m for m in self._queue if refs.get(id(m)) not in rerun]
        clear(self, retain_lifecycle_msgs, fragment_ids_this_run)
        if refs and self._queue:                # references kept (another fragment's) stay known for its rerun
            queued = {id(m) for m in self._queue}
            self.__dict__["_nonlin_ref_fragments"] = {i: f for i, f in refs.items() if i in queued}

    fixed_clear.nonlin_fix = True
    context.create_reference_msg = create_reference_msg
    ForwardMsgQueue.enqueue, ForwardMsgQueue.clear = fixed_enqueue, fixed_clear
    return True
