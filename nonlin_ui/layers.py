"""Activations page helpers: the registry's curves, runs to pick from, per-layer views of a run."""
from __future__ import annotations

import numpy as np
import streamlit as st

from nonlin_core import inspection, plots
from nonlin_core.config import ConfigError, RunConfig
from nonlin_core.models import ACTIVATIONS

from . import resources
from .controls import display_name
from .views import CHART


@st.cache_data(show_spinner=False)
def activation_figure(large: bool):
    x = np.linspace(-4, 4, 241)
    table = inspection.activation_table(x)
    return plots.activation_curves(x, table, {n: a.formula for n, a in ACTIVATIONS.items()}, large=large)


def run_label(config: RunConfig, test_acc: float | None = None) -> str:
    """'moons · relu · 10→10 · lr 0.1 · seed 3 · test 98%' (Compare's seeds differ only in the seed)."""
    shape = "→".join(str(w) for w in config.hidden_layers) or "no hidden layer"
    acc = f" · test {test_acc:.0%}" if test_acc is not None else ""
    return (f"{display_name(config.dataset)} · {config.activation} · {shape} · lr {config.lr:g} · "
            f"seed {config.seed}{acc} · {config.key[:6]}")


def run_choices(limit: int = 50) -> dict[str, str]:
    """key -> label of finished runs: this session's first (newest first), then the store's."""
    choices: dict[str, str] = {}
    for handle in reversed(st.session_state.handles.values()):
        snap = handle.snapshot
        for k, config in enumerate(handle.configs):
            if handle.member_status(k) == "done" and snap is not None and snap.final and snap.final[k]:
                choices.setdefault(config.key, run_label(config, snap.final[k]["test_acc"]) + " · this session")
    for record in resources.manager().store.list_runs(limit=limit, status="done"):
        choices.setdefault(record.key, run_label(record.config, (record.final or {}).get("test_acc")))
    return choices


@st.cache_data(show_spinner="Running the test set through the layers…", max_entries=16)
def layer_report(key: str, n_shown: int):
    record = resources.manager().store.get(key)
    if record is None or record.state_dict is None:
        return None
    reports, labels, class_names = inspection.layer_report(record.config, record.state_dict, n_shown=n_shown)
    return record.config, reports, labels, class_names


def show_layers(key: str, n_shown: int, large: bool) -> None:
    """Dead-unit shares, then before/after heatmaps for each hidden layer."""
    result = layer_report(key, n_shown)
    if result is None:
        st.warning("This run has no stored weights (it did not finish); pick another.")
        return
    config, reports, labels, class_names = result
    if not reports:
        st.info("This run has no hidden layer: the inputs go straight to the output, nothing to look inside.")
        return
    if config.activation == "none":
        st.caption("Linear layers (activation none): every unit passes its input on, so none can stop firing.")
    else:
        st.markdown("**Units that never fire** (output 0 for every test sample): " +
                    ", ".join(f"layer {r.index}: {r.dead_share:.0%}" for r in reports))
        left, _ = st.columns([2, 3])
        with left:
            st.plotly_chart(plots.dead_share_bars([r.dead_share for r in reports], large=large), key="dead_units",
                            config=CHART)
    for r in reports:
        st.plotly_chart(plots.layer_heatmaps(r.pre, r.post, labels, class_names, r.dead, activation=config.activation,
                                             layer=r.index, large=large), key=f"layer_{r.index}", config=CHART)


def activations_state(params: dict[str, str]) -> dict:
    """An Activations link's params (run key, samples) -> the page's state; ConfigError naming a bad field."""
    from nonlin_core.links import whole
    from nonlin_core.store import FINISHED
    key = params.get("run", "")
    record = resources.manager().store.get(key) if key else None
    if record is None or record.status not in FINISHED:
        raise ConfigError(f"run: this server has no finished run {key[:16]!r}")
    samples = whole(params, "samples", 8, 128, 48)
    return {"act_run": key, "act_samples": samples - samples % 8, "act_linked_label": run_label(
        record.config, (record.final or {}).get("test_acc"))}


def activations_query(run: str, samples: int) -> dict[str, str]:
    """The Activations page's link params."""
    return {"run": run, "samples": str(samples)}
