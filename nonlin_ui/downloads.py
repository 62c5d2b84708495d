"""Download buttons for a finished run: the reproducing script, the metrics history (CSV), the model (.pt2,
plain torch) and the figures (standalone HTML). Files are made when clicked (deferred), never on every rerun."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from nonlin_core.export import figures_html, history_csv, model_pt2_bytes
from nonlin_core.export_script import script_text
from nonlin_core.jobs import JobHandle
from nonlin_core.store import history_lists
from nonlin_core.training import METRICS

from . import resources


@st.cache_data(show_spinner=False, max_entries=16)
def _model_file(key: str) -> bytes:
    record = resources.manager().store.get(key)
    if record is None or record.state_dict is None:
        raise ValueError(f"run {key} has no stored weights")
    return model_pt2_bytes(record)


def exports(handle: JobHandle, members: dict[str, int], figures: Callable[[], list], slot: str) -> None:
    """members: label -> member index of the handle's runs that can be exported (a select box when several)."""
    snap = handle.snapshot
    usable = {label: k for label, k in members.items() if snap is not None and snap.final and snap.final[k]}
    if not usable:
        return
    label = next(iter(usable))
    if len(usable) > 1:
        label = st.selectbox("Export the run of", list(usable), key=f"exp_model_{slot}")
    k = usable[label]
    config = handle.configs[k]
    name = f"nonlin-{config.key}"
    history = history_lists({m: snap.history[m][k] for m in METRICS})
    row = st.container(horizontal=True, gap="small")
    row.download_button("Script (.py)", lambda: script_text(config, name=f"{name}.py"), file_name=f"{name}.py",
                        mime="text/x-python", key=f"exp_script_{slot}", on_click="ignore", icon=":material/code:",
                        help="A PyTorch script that reproduces this run and prints its final metrics as one JSON line")
    row.download_button("Metrics (.csv)", lambda: history_csv(history), file_name=f"{name}-history.csv",
                        mime="text/csv", key=f"exp_csv_{slot}", on_click="ignore", icon=":material/table:")
    row.download_button("Model (.pt2)", lambda: _model_file(config.key), file_name=f"{name}.pt2",
                        mime="application/octet-stream", key=f"exp_model_file_{slot}", on_click="ignore",
                        icon=":material/download:",
                        help="torch.export.load(path).module()(x): raw features -> class probabilities")
    row.download_button("Figures (.html)", lambda: figures_html(figures(), f"nonlin run {config.key}"),
                        file_name=f"{name}-figures.html", mime="text/html", key=f"exp_html_{slot}",
                        on_click="ignore", icon=":material/insert_chart:")
