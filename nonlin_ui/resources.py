"""Process-wide resources (job manager + store, warmed once) and per-session state."""
from __future__ import annotations

import gc
import json
import uuid
from collections import OrderedDict

import streamlit as st

from nonlin_core import datasets, inspection
from nonlin_core.config import RunConfig, fields_with_role
from nonlin_core.jobs import JobManager
from nonlin_core.store import StoreError, open_store, store_url

PERSISTED = ("pg_", "cmp_", "act_", "ui_", "ch_")   # widget keys kept alive across pages (buttons are named btn_*)
MAX_HANDLES = 24                              # finished runs a session keeps at hand


def _release(manager: JobManager) -> None:
    manager.shutdown()
    manager.store.close()


@st.cache_resource(show_spinner="Starting the training engine…", on_release=_release)
def _manager(url: str) -> JobManager:
    manager = JobManager.from_env(open_store(url), grid_resolution=60, snapshot_seconds=0.1)
    _warm_up()
    # app.py froze the process's objects at start-up (configure_process); freeze what the warm-up's lazy
    # imports added as well, so Streamlit's gc.collect(2) after every rerun skips them too
    gc.collect()
    gc.freeze()
    return manager


def _warm_up() -> None:
    """Pay torch's lazy imports and first kernels now, not on the first click."""
    from nonlin_core.training import Trainer
    for loss, n_classes, dataset in (("bce", 2, "moons"), ("ce", 3, "blobs")):
        config = RunConfig.within_caps(dataset=dataset, n_classes=n_classes, loss=loss, n_samples=60, epochs=2,
                                       batch_size=16)
        for _ in Trainer(config).steps(grid=True, grid_resolution=8):
            pass


def manager() -> JobManager:
    """The job manager (and its store) for this server and NONLIN_STORE."""
    return _manager(store_url())


def boot() -> None:
    """Once per script run: engine warm, session initialised, widget values kept across pages (a store that
    cannot be opened is said on the page, and nothing else runs)."""
    try:
        manager()
    except StoreError as exc:
        st.error(f"The run store cannot be used: {exc}", icon=":material/error:")
        st.stop()
    if "owner" not in st.session_state:
        st.session_state.owner = uuid.uuid4().hex
        st.session_state.handles = OrderedDict()
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(PERSISTED):
            st.session_state[key] = st.session_state[key]


def large_fonts() -> bool:
    """Projector mode (sidebar toggle on every page, or ?present=1): all text enlarged, charts' fonts too."""
    from . import projector
    return projector.toggle()


def remember(handle) -> None:
    """Keep a handle for this session (newest last, bounded)."""
    handles: OrderedDict = st.session_state.handles
    handles[handle.key] = handle
    handles.move_to_end(handle.key)
    while len(handles) > MAX_HANDLES:
        handles.popitem(last=False)


def data_config(config: RunConfig) -> RunConfig:
    """Only the fields that decide the data (and the plotted pair): the cache key of data views."""
    return RunConfig.within_caps(**{f: getattr(config, f) for f in (*fields_with_role("data"), "loss")})


@st.cache_data(show_spinner=False, max_entries=64)
def _frame(config_json: str, resolution: int) -> inspection.BoundaryFrame:
    config = RunConfig.from_dict(json.loads(config_json))
    return inspection.boundary_frame(datasets.load(config), resolution=resolution)


def boundary_frame(config: RunConfig, resolution: int = 60) -> inspection.BoundaryFrame:
    """Data points and grid axes of a config, in display units (cached per data config)."""
    return _frame(data_config(config).to_json(), resolution)
