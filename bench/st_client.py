"""A headless Streamlit frontend for this app's pages, over Streamlit's own wire protocol (protobuf BackMsg up,
ForwardMsg down, on /_stcore/stream), for bench/ws_load.py. What of Streamlit 1.67's frontend it mirrors:
- the connection: GET /_stcore/health (sets the XSRF cookie) and /_stcore/host-config, then the socket with
  subprotocols ["streamlit", <XSRF cookie>], Origin and Cookie headers;
- the element tree: new_element / add_block at their delta paths (a re-added block of the same type keeps its
  children), stale nodes dropped when a run or fragment run finishes, other scripts' nodes on a page change;
- the widget states of its WidgetStateManager (a widget's value from its proto when it mounts or when the server
  sets it, dropped with the widget), sent in full with every rerun with the query string and page hash;
- the ForwardMsg cache (cached_message_hashes up, ref_hash down, entries aged out after max_cached_message_age);
- st.fragment(run_every=...) timers: a fixed interval per fragment id from its auto_rerun message, sent whether or
  not a script runs, cleared by stop_auto_rerun and by a full run's new_session (the run then sends them again).
What it does not: fetch static files, render, run components, or keep transient nodes (spinners, toasts).
"""
from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Block_pb2 import Block
from streamlit.proto.ClientState_pb2 import ContextInfo
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.load_test import BUSY, ENDED
from nonlin_core.config import ConfigError, RunConfig

XSRF_COOKIE = "_streamlit_xsrf"
STATUS_KEY, TRAIN_KEY, ACTIVATION_KEY = "run_status", "btn_pg_train", "pg_activation"
RUN_DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
PROGRESS = re.compile(r"(?:Running — epoch|Done —) (\d+)")


@dataclass
class Node:
    """An element or a block, as the frontend's element tree holds it."""
    element: Element | None = None
    block: Block | None = None
    run_id: str = ""
    fragment_id: str = ""
    script_hash: str = ""
    children: list[Node] = field(default_factory=list)


def empty_root() -> Node:
    return Node(block=Block(), children=[Node(block=Block(allow_empty=True)) for _ in range(4)])  # main sidebar event bottom


def proto_of(element: Element):
    return getattr(element, element.WhichOneof("type"))


def text_of(node: Node | None) -> str:
    """The first text in a node: an alert's or markdown's body, a progress bar's text, an exception's message."""
    if node is None:
        return ""
    if node.element is None:
        return next((t for t in map(text_of, node.children) if t), "")
    proto = proto_of(node.element)
    return next((getattr(proto, a) for a in ("body", "text", "message") if getattr(proto, a, "")), "")


def option_text(option) -> str:
    return f"{option.content_icon} {option.content}".strip()


def widget_state(kind: str, p) -> WidgetState | None:
    """What the widget's frontend component commits when it mounts or the server sets its value (not a user's
    change): the proto's value when set_value, else its default; None for elements that hold no state."""
    state, now = WidgetState(id=p.id), getattr(p, "set_value", False)
    if kind == "checkbox":
        state.bool_value = p.value if now else p.default
    elif kind == "number_input":
        value = p.value if now and p.HasField("value") else p.default if p.HasField("default") else None
        if value is None:
            return None
        if p.data_type == NumberInput.INT:
            state.int_value = int(value)
        else:
            state.double_value = value
    elif kind == "selectbox":
        value = (p.raw_value if p.HasField("raw_value") else None) if now else \
            (p.options[p.default] if p.options and p.HasField("default") else None)
        if value is None:
            return None
        state.string_value = value
    elif kind == "slider" and p.type == Slider.SELECT_SLIDER:
        raw = list(p.raw_value) if now and p.raw_value else []
        state.string_array_value.data.extend(
            [v if v in p.options else p.options[int(d)] for v, d in zip(raw, p.default)] if raw
            else [p.options[int(d)] for d in p.default])
    elif kind == "slider":
        state.double_array_value.data.extend(p.value if now else p.default)
    elif kind == "button_group":
        state.string_array_value.data.extend(
            p.raw_values if now else [option_text(p.options[i]) for i in p.default if 0 <= i < len(p.options)])
    else:
        return None
    return state


class Tab:
    """One browser tab of the app, without the browser: a websocket and what the frontend keeps of its messages."""

    def __init__(self, ws: ClientConnection, base_url: str, query: str):
        self.ws, self.base_url, self.query = ws, base_url, query
        self.root = empty_root()
        self.widgets: dict[str, WidgetState] = {}
        self.widget_fragment: dict[str, str] = {}     # widget id -> fragment its element is in
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}
        self.cache: dict[str, list] = {}               # hash -> [message bytes, run count when last used, fragment id]
        self.run_count, self.max_age, self.has_new_session = 0, 2, False
        self.run_id, self.page_hash, self.app_path = "", "", ""
        self.status, self.status_path = "", ()
        self.samples: list[dict] = []                  # status line changes: t (ms), status, epoch
        self.errors: list[str] = []
        self.started: dict[str, tuple[float, bool]] = {}   # run id -> (new_session time, fragment run)
        self.script_s: dict[str, list[float]] = {"full": [], "fragment": []}
        self.counts = {"messages": 0, "bytes": 0, "reruns": 0, "auto_reruns": 0, "cache_hits": 0}
        self.changed = asyncio.Event()
        self.closing = self.closed = self.running = False
        self.reader: asyncio.Task | None = None

    @classmethod
    async def open(cls, base_url: str, query: str, timeout: float) -> Tab:
        token = await asyncio.to_thread(xsrf_token, base_url, timeout)
        ws = await connect(base_url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit", token],
                           origin=base_url, additional_headers={"Cookie": f"{XSRF_COOKIE}={token}"}, proxy=None,
                           max_size=None, open_timeout=timeout, ping_interval=None)   # a browser answers pings, sends none
        tab = cls(ws, base_url, query)
        tab.reader = asyncio.create_task(tab.receive())
        await tab.rerun()
        return tab

    async def close(self) -> None:
        self.closing = True
        for _, task in self.timers.values():
            task.cancel()
        await self.ws.close()
        if self.reader is not None:
            await self.reader

    # ---- up: BackMsgs ---------------------------------------------------------------------------------------
    async def rerun(self, fragment_id: str = "", auto: bool = False) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.page_script_hash, state.fragment_id = self.query, self.page_hash, fragment_id
        state.is_auto_rerun = auto
        state.widget_states.widgets.extend(self.widgets.values())
        state.cached_message_hashes.extend(self.cache)
        state.context_info.CopyFrom(ContextInfo(timezone="UTC", timezone_offset=0, locale="en-US", url=f"{self.base_url}/",
                                                is_embedded=False, color_scheme="light"))   # chromium's, for this page
        self.has_new_session = False
        self.counts["auto_reruns" if auto else "reruns"] += 1
        await self.ws.send(msg.SerializeToString())

    async def click(self, key: str) -> float:
        """Press a button: a rerun with its trigger set; returns when it was sent (perf_counter)."""
        button = self.widget(key)
        self.widgets[button.id] = WidgetState(id=button.id, trigger_value=True)
        sent = time.perf_counter()
        await self.rerun(self.widget_fragment.get(button.id, ""))
        del self.widgets[button.id]
        return sent

    async def choose(self, key: str, option: str) -> None:
        """Pick an option of a pills / segmented control, as a user's click on it."""
        group = self.widget(key)
        if option not in [option_text(o) for o in group.options]:
            raise ValueError(f"{option!r} is not an option of {key}")
        self.widgets[group.id] = state = WidgetState(id=group.id)
        state.string_array_value.data.append(option)
        await self.rerun(self.widget_fragment.get(group.id, ""))

    async def tick(self, fragment_id: str, interval: float) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                await self.rerun(fragment_id, auto=True)
        except ConnectionClosed:
            pass

    # ---- down: ForwardMsgs ----------------------------------------------------------------------------------
    async def receive(self) -> None:
        try:
            async for data in self.ws:
                self.counts["messages"] += 1
                self.counts["bytes"] += len(data)
                try:
                    self.handle(data)
                except Exception as exc:  # noqa: BLE001 - the frontend shows "Bad message format" and goes on
                    self.errors.append(f"bad message: {type(exc).__name__}: {exc}")
                self.changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            if not self.closing:
                self.errors.append(f"websocket closed: {self.ws.close_code} {self.ws.close_reason or ''}".strip())
            for _, task in self.timers.values():
                task.cancel()
            self.changed.set()

    def handle(self, data: bytes) -> None:
        msg = ForwardMsg.FromString(data)
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                raise KeyError(f"cached ForwardMsg miss {msg.ref_hash}")
            cached[1] = self.run_count
            self.counts["cache_hits"] += 1
            metadata, msg = msg.metadata, ForwardMsg.FromString(cached[0])
            msg.metadata.CopyFrom(metadata)
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            if msg.hash in self.cache:
                self.cache[msg.hash][1] = self.run_count
            else:
                self.cache[msg.hash] = [data, self.run_count, msg.delta.fragment_id if kind == "delta" else ""]
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(msg)

    def on_new_session(self, msg: ForwardMsg) -> None:
        session, run = msg.new_session, msg.metadata.run
        self.has_new_session = True
        self.max_age = session.config.max_cached_message_age
        self.started[run.script_run_id] = (time.perf_counter(), bool(run.fragment_ids))
        same_page = self.app_path == session.main_script_path and self.page_hash == session.page_script_hash
        if not run.fragment_ids:
            for _, task in self.timers.values():
                task.cancel()
            self.timers.clear()
            self.app_path, self.page_hash = session.main_script_path, session.page_script_hash
        self.run_id = run.script_run_id
        if not same_page:        # clearAppState: only the main script's nodes stay
            self.root.children = [self.only_script(c, session.main_script_hash) or Node(block=Block(allow_empty=True))
                                  for c in self.root.children]
            self.drop_inactive_widgets()
            self.update_status()

    def on_session_status_changed(self, msg: ForwardMsg) -> None:
        self.running = msg.session_status_changed.script_is_running      # the frontend's running man; nothing waits on it

    def on_navigation(self, msg: ForwardMsg) -> None:
        self.page_hash = msg.navigation.page_script_hash

    def on_page_info_changed(self, msg: ForwardMsg) -> None:
        self.query = msg.page_info_changed.query_string

    def on_page_not_found(self, msg: ForwardMsg) -> None:
        self.errors.append(f"page not found: {msg.page_not_found.page_name!r}")

    def on_session_event(self, msg: ForwardMsg) -> None:
        if msg.session_event.WhichOneof("type") == "script_compilation_exception":
            self.errors.append(f"exception: {msg.session_event.script_compilation_exception.message}")

    def on_auto_rerun(self, msg: ForwardMsg) -> None:
        fragment_id, interval = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
        if not fragment_id or (fragment_id in self.timers and self.timers[fragment_id][0] == interval):
            return
        self.stop_timers([fragment_id])
        self.timers[fragment_id] = (interval, asyncio.create_task(self.tick(fragment_id, interval)))

    def on_stop_auto_rerun(self, msg: ForwardMsg) -> None:
        self.stop_timers(msg.stop_auto_rerun.fragment_ids)

    def stop_timers(self, fragment_ids) -> None:
        for fragment_id in fragment_ids:
            if fragment_id in self.timers:
                self.timers.pop(fragment_id)[1].cancel()

    def on_delta(self, msg: ForwardMsg) -> None:
        delta, path = msg.delta, list(msg.metadata.delta_path)
        kind = delta.WhichOneof("type")
        node = Node(run_id=self.run_id, fragment_id=delta.fragment_id, script_hash=msg.metadata.active_script_hash)
        if kind == "add_block":
            node.block = delta.add_block
            old = self.node_at(path)
            if old is not None and old.block is not None and old.block.WhichOneof("type") == node.block.WhichOneof("type") \
                    and not (node.block.HasField("dialog") and old.block.id != node.block.id):
                node.children = old.children          # a block of the same type keeps its children until they go stale
        elif kind == "new_element":
            node.element = delta.new_element
            self.mount(node)
        else:
            return                                    # new_transient (spinners, toasts): nothing here reads them
        self.set_node(path, node)
        if tuple(path[:len(self.status_path)]) == self.status_path or node.block is not None:
            self.update_status()

    def on_script_finished(self, msg: ForwardMsg) -> None:
        status, run = msg.script_finished, msg.metadata.run
        begun = self.started.pop(run.script_run_id, None)
        if begun is not None and status in RUN_DONE:
            self.script_s["fragment" if begun[1] else "full"].append(time.perf_counter() - begun[0])
        if status in RUN_DONE and (run.fragment_ids or run.script_run_id == self.run_id):
            fragments = set(run.fragment_ids)
            self.root.children = [self.prune(c, run.script_run_id, fragments, False) or Node(block=Block(allow_empty=True))
                                  for c in self.root.children]
            self.drop_inactive_widgets()
            self.update_status()
        if status != ForwardMsg.FINISHED_EARLY_FOR_RERUN and self.has_new_session:
            self.run_count += 1
            for key, (_, used, fragment_id) in list(self.cache.items()):
                if (not run.fragment_ids or fragment_id in run.fragment_ids) and self.run_count - used > self.max_age:
                    del self.cache[key]

    # ---- the element tree -----------------------------------------------------------------------------------
    def node_at(self, path: list[int]) -> Node | None:
        node = self.root
        for index in path:
            if node.element is not None or index >= len(node.children):
                return None
            node = node.children[index]
        return node

    def set_node(self, path: list[int], node: Node) -> None:
        parent = self.root
        for index in path[:-1]:
            parent.run_id = self.run_id               # the frontend stamps each block on the path with the run
            if parent.element is not None or index >= len(parent.children):
                raise ValueError(f"bad delta path {path}")
            parent = parent.children[index]
        if parent.element is not None or path[-1] > len(parent.children):
            raise ValueError(f"bad delta path {path}")
        parent.run_id = self.run_id
        if path[-1] == len(parent.children):
            parent.children.append(node)
        else:
            parent.children[path[-1]] = node

    def prune(self, node: Node, run_id: str, fragment_ids: set[str], in_fragment: bool) -> Node | None:
        """The frontend's clearStaleNodes: drop what the finished run (or fragment run) did not send."""
        if node.element is not None:
            keep = node.element.WhichOneof("type") == "toast" or node.run_id == run_id or \
                (bool(fragment_ids) and (not node.fragment_id or not in_fragment))
            return node if keep else None
        if fragment_ids:
            if in_fragment and node.run_id != run_id:
                return None
            in_fragment = in_fragment or (node.fragment_id in fragment_ids and node.run_id == run_id)
        elif node.run_id != run_id:
            return None
        children = [self.prune(c, run_id, fragment_ids, in_fragment) for c in node.children]
        if all(new is old for new, old in zip(children, node.children)):
            return node
        return Node(block=node.block, run_id=run_id, fragment_id=node.fragment_id, script_hash=node.script_hash,
                    children=[c for c in children if c is not None])

    def only_script(self, node: Node, script_hash: str) -> Node | None:
        if node.script_hash != script_hash:
            return None
        if node.element is not None:
            return node
        return Node(block=node.block, run_id=node.run_id, fragment_id=node.fragment_id, script_hash=node.script_hash,
                    children=[c for c in (self.only_script(c, script_hash) for c in node.children) if c is not None])

    def walk(self, node: Node | None = None, path: tuple = ()):
        node = node or self.root
        yield path, node
        for i, child in enumerate(node.children):
            yield from self.walk(child, (*path, i))

    def widget(self, key: str):
        """The proto of the element whose id ends with the user key (a ValueError when the page has none)."""
        for _, node in self.walk():
            if node.element is not None and getattr(proto_of(node.element), "id", "").endswith(f"-{key}"):
                return proto_of(node.element)
        raise ValueError(f"no element with key {key!r} on the page")

    def mount(self, node: Node) -> None:
        kind = node.element.WhichOneof("type")
        proto = getattr(node.element, kind)
        if kind == "exception":
            self.errors.append(f"exception: {proto.type}: {proto.message}" + (" (warning)" if proto.is_warning else ""))
        elif kind == "alert" and any(b in proto.body for b in BUSY):
            self.errors.append(f"refused: {proto.body}")
        wid = getattr(proto, "id", "")
        if not wid:
            return
        self.widget_fragment[wid] = node.fragment_id
        if wid not in self.widgets or getattr(proto, "set_value", False):
            state = widget_state(kind, proto)
            if state is not None:
                self.widgets[wid] = state

    def drop_inactive_widgets(self) -> None:
        active = set()
        for _, node in self.walk():
            active.add(getattr(proto_of(node.element), "id", "") if node.element is not None else node.block.id)
        for wid in [w for w in self.widgets if w not in active]:
            del self.widgets[wid]

    def update_status(self) -> None:
        box = self.node_at(list(self.status_path))
        if box is None or box.block is None or not box.block.id.endswith(f"-{STATUS_KEY}"):
            self.status_path = next((p for p, n in self.walk() if n.block is not None and n.block.id.endswith(f"-{STATUS_KEY}")),
                                    ())
            box = self.node_at(list(self.status_path)) if self.status_path else None
        status = text_of(box.children[0]) if box is not None and box.children else ""
        if status != self.status:
            self.status = status
            match = PROGRESS.match(status)
            self.samples.append({"t": time.perf_counter() * 1000, "status": status,
                                 "epoch": int(match.group(1)) if match else None})

    # ---- what a test reads ----------------------------------------------------------------------------------
    def config(self) -> RunConfig | None:
        try:
            return RunConfig.from_query(dict(parse_qsl(self.query)))
        except ConfigError:
            return None

    def fresh(self, activation: str) -> bool:
        """The page shows this activation's config untrained, with a Train button that can be pressed."""
        try:
            train = self.widget(TRAIN_KEY)
        except ValueError:
            return False
        config = self.config()
        return self.status.startswith("Not trained yet") and config is not None and config.activation == activation \
            and not train.disabled

    def end_state(self, seen: int) -> str:
        return next(iter(self.errors[seen:]), "") or (self.status if self.status.startswith(ENDED) else "")

    async def wait_for(self, predicate, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            self.changed.clear()
            if result := predicate():
                return result
            if self.closed:
                raise ConnectionError(self.errors[-1] if self.errors else "websocket closed")
            try:
                await asyncio.wait_for(self.changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                raise TimeoutError(f"waited {timeout:g} s") from None

    def state(self) -> str:
        return json.dumps({"query": self.query, "status": self.status, "script_running": self.running,
                           "timers": len(self.timers), "errors": self.errors[-3:]})


def xsrf_token(base_url: str, timeout: float) -> str:
    """The page's first requests: health (which sets the XSRF cookie the socket's subprotocol carries), host-config."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), urllib.request.ProxyHandler({}))
    for path in ("/_stcore/health", "/_stcore/host-config"):
        with opener.open(base_url + path, timeout=timeout) as resp:
            resp.read()
    return next((c.value for c in jar if c.name == XSRF_COOKIE), "PLACEHOLDER_AUTH_TOKEN")  # the frontend's fallback


