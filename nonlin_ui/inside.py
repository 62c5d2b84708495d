"""Inside the network, on the Playground: the network diagram (every unit's output over the plane) or the
linear-region map, redrawn live from the run's latest snapshot."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np
import streamlit as st

from nonlin_core import datasets, inspection
from nonlin_core.config import RunConfig
from nonlin_core.hidden_space import hidden_spaces
from nonlin_core.models import build_mlp, output_width
from nonlin_core.network import network_view, output_kind, snapshot_model
from nonlin_core.network_playback import network_timelapse, played_params, timelapse_views
from nonlin_core.network_plot import network_diagram
from nonlin_core.region_plot import region_map_figure
from nonlin_core.regions import REGION_RESOLUTION, display_axes, piecewise_linear, region_map
from nonlin_core.space_plot import hidden_space_figure

from . import held, network_sync, resources, runs

CHART = {"displaylogo": False, "displayModeBar": False}
VIEWS = ("Network", "Linear regions", "Hidden space")
NETWORK_CAPTION = ("Each square is a unit: its output over the plotted plane (blue above 0, orange below, white 0; "
                   "outputs in the class colours). Lines are weights: blue positive, orange negative, thicker = "
                   "larger |weight|. Hover a unit for the share of the data where it is active (z > 0), a line's "
                   "middle for its weight.")
REGIONS_CAPTION = (f"Each colour is one activation pattern (which units are on) met on a {REGION_RESOLUTION}×"
                   f"{REGION_RESOLUTION} grid of the plotted plane; inside one, the network is a single linear "
                   "function. The count is a lower bound on its linear regions: regions smaller than a grid cell "
                   "are missed, and disjoint ones sharing a pattern count once (12 colours repeat).")
HIDDEN_CAPTION = ("Each panel is what one layer makes of the plane: the data (train and test, in the class "
                  "colours) and two families of grid lines (grey: x1 fixed, purple: x2 fixed), sent through the "
                  "network up to that layer. Wider than 2, a layer is projected onto its two main directions (PCA "
                  "of the data there; the share of variance kept is in the title). A good last layer has pulled "
                  "the classes apart.")


@st.cache_resource(show_spinner=False, max_entries=16)
def _dataset(data_json: str) -> datasets.Dataset:
    return datasets.load(RunConfig.from_dict(json.loads(data_json)))


def dataset(config: RunConfig) -> datasets.Dataset:
    """The config's data (train/test split, scaled), loaded once per data config (read-only)."""
    return _dataset(resources.data_config(config).to_json())


def current_model(snap, config: RunConfig, data: datasets.Dataset):
    """(the run's model now, trained?): the initial weights before its first snapshot."""
    model = snapshot_model(config, data, snap) if snap is not None else None
    if model is not None:
        return model, True
    return build_mlp(data.n_features, config.hidden_layers, output_width(config.loss, data.n_classes),
                     config.activation, seed=config.seed), False


def panel(snap, config: RunConfig, frame: inspection.BoundaryFrame, large: bool, hold: bool = False) -> None:
    """The chosen view of the run's current model (rebuilt at most every second while it trains: held.py).
    hold: as drawn last time (a Train click's response: held.drawn)."""
    choice = st.segmented_control("Inside the network", VIEWS, default=VIEWS[0], key="pg_inside") or VIEWS[0]
    # what the held view shows must still hold: the data, and for the regions whether the network has any (a
    # smooth activation's message is drawn at once: it costs the browser nothing)
    regions = choice == VIEWS[1] and piecewise_linear(config.activation)
    held.drawn("inside", f"{choice}|{resources.data_config(config).key}|{regions}", hold,
               lambda: _drawing(choice, snap, config, frame, large))


def _drawing(choice: str, snap, config: RunConfig, frame: inspection.BoundaryFrame, large: bool) -> Callable[[], None]:
    played = played_params(snap) if snap is not None and snap.status[0] not in runs.LIVE else None
    if choice == "Network" and played is not None:
        fig = _played(played, config, large)
        return lambda: network_played(fig)
    live = snap is not None and not snap.done
    key = f"{choice}|{config.key}|{snap is None}"
    kind, fig, found = held.held("inside", key, live, lambda: build(choice, snap, config, frame, large))

    def draw() -> None:
        if kind == "smooth":
            st.info(f"**{config.activation}** is smooth: its network bends everywhere and has no linear regions. "
                    "Pick none, relu or leaky_relu to see them.")
        elif kind == "regions":
            left, right = st.columns([3, 2], gap="medium")
            left.plotly_chart(fig, key="regions", config=CHART)
            with right:
                st.metric("Linear regions in view (at least)", f"{found:,}", width="content")
                st.caption(REGIONS_CAPTION)
        else:
            st.plotly_chart(fig, key=kind, config=CHART)
            st.caption(NETWORK_CAPTION if kind == "network" else HIDDEN_CAPTION)
    return draw


@st.cache_resource(show_spinner=False, max_entries=8)
def _played_figure(config_json: str, epochs: tuple[int, ...], params_digest: str, large: bool, _played):
    config = RunConfig.from_dict(json.loads(config_json))
    views = timelapse_views(config, dataset(config), _played)
    return network_timelapse(views, list(epochs), large=large, uirevision=f"network-{config.key}")


def _played(played, config: RunConfig, large: bool):
    digest = hashlib.sha1(played.params.tobytes()).hexdigest()
    return _played_figure(config.to_json(), tuple(played.epochs), digest, large, played)


def network_played(fig) -> None:
    """A paused or finished run: the diagram at every recorded epoch, shown at the boundary's (network_sync)."""
    st.plotly_chart(fig, key="network", config=CHART)
    st.caption(NETWORK_CAPTION + " It shows the epoch of the boundary's slider as you scrub or play it.")
    network_sync.install()


def build(choice: str, snap, config: RunConfig, frame: inspection.BoundaryFrame, large: bool):
    """(kind, figure, region count) of the chosen view: kind is network, regions, smooth or hidden."""
    data = dataset(config)
    model, trained = current_model(snap, config, data)
    when = f" at epoch {snap.epoch}" if trained else " (untrained: the initial weights)"
    if choice == "Network":
        view = network_view(model, data, probabilities=output_kind(config.loss))
        return "network", network_diagram(view, large=large, title="Network" + when,
                                          uirevision=f"network-{config.key}"), None
    if choice == "Linear regions":
        found = region_map(model, config.activation, data)
        if found is None:
            return "smooth", None, None
        xs, ys = display_axes(found, data)
        fig = region_map_figure(found, xs, ys, X=frame.X_train, y=frame.y_train, class_names=frame.class_names,
                                axis_titles=frame.axis_titles, equal_aspect=frame.n_features == 2 and
                                config.dataset != "csv", large=large, title="Linear regions" + when,
                                uirevision=f"regions-{config.key}")
        return "regions", fig, found.count
    spaces = hidden_spaces(model, data)
    y = np.concatenate([data.y_train, data.y_test])
    return "hidden", hidden_space_figure(spaces, y, data.class_names, large=large, title="Hidden space" + when,
                                         uirevision=f"hidden-{config.key}"), None
