"""Sweep page helpers: the spec from the sidebar, the live heatmaps, opening a cell's run."""
from __future__ import annotations

import streamlit as st

from nonlin_core import plots
from nonlin_core.config import ConfigError, RunConfig, caps
from nonlin_core.datasets import DATASETS
from nonlin_core.jobs import SweepHandle
from nonlin_core.models import ACTIVATIONS
from nonlin_core.regions import piecewise_linear
from nonlin_core.sweep import SWEEP_METRICS, SweepSpec, cell_config, metric_table, plan
from nonlin_ui import controls, resources, runs

WIDTHS = (2, 4, 8, 16, 32, 64, 128, 256)


DEFAULTS = {"sw_dataset": "circles", "sw_classes": 3, "sw_acts": ["none", "relu", "tanh"], "sw_depths": [0, 1, 2, 3],
            "sw_widths": [2, 4, 8, 16], "sw_seeds": 4, "sw_epochs": 300, "sw_lr": 0.03}


def _base(dataset: str, n_classes: int, lr: float, epochs: int) -> RunConfig:
    return RunConfig.within_caps(dataset=dataset, n_classes=n_classes, loss="ce" if n_classes > 2 else "bce",
                                 standardize=dataset == "heart_failure", optimizer="adam", lr=lr, batch_size=0,
                                 epochs=int(epochs), hidden_layers=())


def _spec(state: dict) -> SweepSpec:
    multiclass = DATASETS[state["sw_dataset"]].multiclass
    n_classes = int(state["sw_classes"]) if multiclass else 2
    return SweepSpec(_base(state["sw_dataset"], n_classes, state["sw_lr"], state["sw_epochs"]),
                     tuple(a for a in ACTIVATIONS if a in state["sw_acts"]), tuple(sorted(state["sw_depths"])),
                     tuple(sorted(state["sw_widths"])), int(state["sw_seeds"]))


def sweep_state(params: dict[str, str]) -> dict:
    """A Sweep link's params -> the page's widget state; ConfigError naming the first bad field."""
    spec = SweepSpec.from_query(params, _spec(DEFAULTS))
    base = spec.base
    if base.dataset == "csv":
        raise ConfigError("dataset: Sweep trains the built-in datasets, not an upload")
    if odd := [w for w in spec.widths if w not in WIDTHS]:
        raise ConfigError(f"widths: {odd[0]} is not one of {', '.join(map(str, WIDTHS))}")
    if base.lr not in controls.LR_STEPS:
        raise ConfigError(f"lr: {base.lr:g} is not one of the offered rates")
    if base.epochs < 10:
        raise ConfigError(f"epochs: {base.epochs} is below the page's minimum 10")
    return {"sw_dataset": base.dataset, "sw_classes": base.n_classes, "sw_acts": list(spec.activations),
            "sw_depths": list(spec.depths), "sw_widths": list(spec.widths), "sw_seeds": spec.seeds,
            "sw_epochs": base.epochs, "sw_lr": base.lr}


def sidebar() -> SweepSpec | None:
    s, sb, limits = st.session_state, st.sidebar, caps()
    for key, value in DEFAULTS.items():
        s.setdefault(key, value)
    sb.header("Data")
    dataset = sb.selectbox("Dataset", [d for d in DATASETS if d != "csv"], key="sw_dataset",
                           format_func=controls.display_name)
    if DATASETS[dataset].multiclass:
        sb.number_input("Classes", 2, limits["classes"], key="sw_classes")
    sb.header("Grid")
    acts = sb.pills("Activations", list(ACTIVATIONS), selection_mode="multi", key="sw_acts")
    depths = sb.pills("Depths (hidden layers)", list(range(limits["depth"] + 1)), selection_mode="multi",
                      key="sw_depths")
    widths = sb.pills("Widths", [w for w in WIDTHS if w <= limits["width"]], selection_mode="multi", key="sw_widths")
    sb.number_input("Seeds per cell", 1, 16, key="sw_seeds")
    sb.header("Training")
    sb.number_input("Epochs", 10, limits["epochs"], step=50, key="sw_epochs")
    sb.select_slider("Learning rate", controls.LR_STEPS, key="sw_lr")
    if not (acts and depths and widths):
        st.info("Choose at least one activation, depth and width in the sidebar.")
        return None
    try:
        return _spec(s)
    except ConfigError as exc:
        st.error(str(exc))
        return None


def start(spec: SweepSpec) -> SweepHandle | None:
    sweep = runs.submit_or_report(lambda: resources.manager().submit_sweep(plan(spec), owner=st.session_state.owner))
    if sweep is not None:
        st.session_state.sweep_handle = sweep
    return sweep


def current(spec: SweepSpec) -> SweepHandle | None:
    """This session's sweep for spec, or a finished one from the store."""
    sweep = st.session_state.get("sweep_handle")
    groups = plan(spec)
    if sweep is not None and [g.key for g in sweep.groups] == [_key(g) for g in groups]:
        return sweep
    store = resources.manager().store
    if all((r := store.get(c.key)) is not None and r.status in ("done", "diverged") for g in groups for c in g):
        return start(spec)    # all stored: a finished sweep at once, no training
    return None


def _key(configs: list[RunConfig]) -> str:
    from nonlin_core.jobs import batch_handle_key
    return batch_handle_key(configs)


def finals(sweep: SweepHandle) -> dict[str, dict | None]:
    """Run key -> final metrics of every finished member."""
    out = {}
    for g in sweep.groups:
        snap = g.snapshot
        if g.finished and snap is not None and snap.final is not None:
            out.update({c.key: f for c, f in zip(g.configs, snap.final, strict=True)})
    return out


def outcome(sweep: SweepHandle) -> tuple[int, int, str]:
    """(runs in the sweep, runs that finished with results, the first failure's reason or '')."""
    total = sum(len(g.configs) for g in sweep.groups)
    results = sum(1 for f in finals(sweep).values() if f)
    reasons = [getattr(sweep, "message", "")] + [g.message for g in sweep.groups if g.status != "done"]
    reasons += [m for g in sweep.groups if g.snapshot is not None for m in g.snapshot.messages]
    return total, results, next((r for r in reasons if r), "")


def status_line(spec: SweepSpec, sweep: SweepHandle | None) -> None:
    """Progress while training; at the end one line: done (green), stopped, or failed with its reason (red)."""
    if sweep is None:
        return
    total, results, reason = outcome(sweep)
    seeds = f"{spec.seeds} seed{'s' if spec.seeds > 1 else ''} per cell"
    if not sweep.finished:
        st.progress(sweep.progress, text=f"Training — {sweep.progress:.0%} of {total} runs done ({seeds}); "
                                         "cells fill in as their shape finishes")
    elif sweep.status == "cancelled":
        st.warning(f"Stopped — {results} of {total} runs finished. Press **Run sweep** to finish the rest.")
    elif results == 0:
        st.error(f"Failed — none of the {total} runs finished: {reason or 'no results'}")
    elif results < total:
        st.warning(f"Done — {results} of {total} runs finished ({reason}); mean test accuracy over {seeds} (percent)")
    else:
        st.success(f"Done — {total} runs; mean test accuracy over {seeds} (percent)")


def heatmaps(spec: SweepSpec, sweep: SweepHandle | None, large: bool) -> None:
    status_line(spec, sweep)
    if sweep is not None and sweep.finished and outcome(sweep)[1] == 0:
        return                                                   # no results: no empty heatmaps under the error
    label = st.segmented_control("Metric", list(SWEEP_METRICS), default="test accuracy", key="sw_metric") \
        or "test accuracy"
    counts = SWEEP_METRICS[label] == "linear_regions"
    acts = [a for a in spec.activations if piecewise_linear(a)] if counts else list(spec.activations)
    if not acts:
        st.info("Linear regions exist for none, relu and leaky_relu only: add one of them to the sweep.")
        return
    tables = metric_table(spec, finals(sweep) if sweep else {}, SWEEP_METRICS[label])
    if counts:
        st.caption("Mean over seeds of the distinct activation patterns on a 200×200 grid of the plotted plane "
                   "(a lower bound on the linear regions); smooth activations have none and are left out.")
    st.plotly_chart(plots.sweep_heatmaps({a: tables[a] for a in acts}, spec.depths, spec.widths, large=large,
                                         counts=counts), key="sweep_heatmap", width="stretch")


def open_cell(spec: SweepSpec) -> None:
    """Pick a cell and seed; open that run on the Playground (served from the store)."""
    cols = st.columns([2, 1, 1, 1, 2])
    act = cols[0].selectbox("Activation", spec.activations, key="sw_open_act")
    depth = cols[1].selectbox("Depth", spec.depths, key="sw_open_depth")
    width = cols[2].selectbox("Width", spec.widths, key="sw_open_width")
    seed = cols[3].selectbox("Seed", list(range(spec.seeds)), key="sw_open_seed")
    cols[4].write("")
    if cols[4].button("Open this run", key="btn_sw_open"):
        controls.open_in_playground(cell_config(spec, act, depth, width, seed))
