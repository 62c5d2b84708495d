"""Runs page helpers: the store's runs as a table, re-run and export of one run."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from nonlin_core.config import ConfigError, RunConfig
from nonlin_core.errors import DataError
from nonlin_core.export import export_bytes
from nonlin_core.jobs import BusyError
from nonlin_core.store import RunRecord
from nonlin_ui import resources
from nonlin_ui.controls import display_name

RERUNNABLE = ("interrupted", "failed", "cancelled", "stopped", "paused")
STATUSES = ("done", "interrupted", "failed", "diverged", "cancelled", "stopped", "paused")
PAGE_SIZE = 50
# Material icons (Streamlit's own font): emoji render as empty boxes where the browser has no emoji font
STATUS_ICON = {"done": ":material/check_circle:", "diverged": ":material/trending_up:",
               "running": ":material/hourglass_top:", "queued": ":material/hourglass_top:",
               "interrupted": ":material/warning:", "failed": ":material/error:", "cancelled": ":material/stop_circle:",
               "stopped": ":material/timer_off:", "paused": ":material/pause_circle:"}


def describe(config: RunConfig) -> str:
    """'circles 2→10→10 relu · sgd lr 0.1 · 1000 ep · seed 42'."""
    hidden = "→".join(str(w) for w in config.hidden_layers) or "linear"
    return (f"{display_name(config.dataset)} {hidden} {config.activation} · {config.optimizer} lr {config.lr:g} · "
            f"{config.epochs} ep · seed {config.seed}")


def page_of_runs(store, status: str | None, page: int) -> tuple[list[RunRecord], int]:
    """(the page's records, newest first; how many runs match) — PAGE_SIZE a page."""
    count_runs = getattr(store, "count_runs", None)
    if count_runs is None:                  # a store without offsets: page through its newest 500
        records = store.list_runs(limit=500, status=status)
        return records[page * PAGE_SIZE:(page + 1) * PAGE_SIZE], len(records)
    return store.list_runs(limit=PAGE_SIZE, status=status, offset=page * PAGE_SIZE), count_runs(status)


def page_count(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def table(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run; the status in words (a table cell cannot show icons)."""
    return pd.DataFrame([{
        "status": r.status,
        "run": describe(r.config),
        "test acc": (r.final or {}).get("test_acc"),
        "F1": (r.final or {}).get("f1"),
        "seconds": round(r.seconds, 2),
        "updated": time.strftime("%H:%M:%S", time.localtime(r.updated_at)),
        "key": r.key,
    } for r in records])


def rerun(configs: list[RunConfig]) -> None:
    """Submit again (each its own job); messages instead of tracebacks."""
    manager = resources.manager()
    started = 0
    for config in configs:
        try:
            resources.remember(manager.submit(config, owner=st.session_state.owner))
            started += 1
        except BusyError as exc:
            st.warning(str(exc))
            break
        except (ConfigError, DataError) as exc:
            st.error(f"{describe(config)}: {exc}")
    if started:
        st.success(f"Started {started} run{'s' if started > 1 else ''} again; they appear here as they train.")


def export_button(record: RunRecord) -> None:
    if record.state_dict is None:
        return
    try:
        data = export_bytes(record)
    except (DataError, ConfigError, ValueError) as exc:
        st.caption(f"Export unavailable: {exc}")
        return
    st.download_button("Download model (.pt)", data, file_name=f"nonlin-{record.key}.pt",
                       mime="application/octet-stream", key=f"btn_export_{record.key}",
                       help="Weights, config, feature/class names and the training scaler. "
                            "Load with nonlin_core.export.load_exported(path).")
