"""Inside the network, on the Playground: the network diagram (every unit's output over the plane), redrawn
live from the run's latest snapshot."""
from __future__ import annotations

import json

import streamlit as st

from nonlin_core import datasets
from nonlin_core.config import RunConfig
from nonlin_core.models import build_mlp, output_width
from nonlin_core.network import network_view, output_kind, snapshot_model
from nonlin_core.network_plot import network_diagram

from . import resources

CHART = {"displaylogo": False, "displayModeBar": False}
NETWORK_CAPTION = ("Each square is a unit: its output over the plotted plane (blue above 0, orange below, white 0; "
                   "outputs in the class colours). Lines are weights: blue positive, orange negative, thicker = "
                   "larger |weight|. Hover a unit for the share of the data where it is active (z > 0), a line's "
                   "middle for its weight.")


@st.cache_resource(show_spinner=False, max_entries=16)
def _dataset(data_json: str) -> datasets.Dataset:
    return datasets.load(RunConfig.from_dict(json.loads(data_json)))


def dataset(config: RunConfig) -> datasets.Dataset:
    """The config's data (train/test split, scaled), loaded once per data config (read-only)."""
    return _dataset(resources.data_config(config).to_json())


def network(snap, config: RunConfig, large: bool) -> None:
    """The network diagram of the run's current model (the untrained one before its first snapshot)."""
    data = dataset(config)
    model = snapshot_model(config, data, snap) if snap is not None else None
    untrained = model is None
    if untrained:
        model = build_mlp(data.n_features, config.hidden_layers, output_width(config.loss, data.n_classes),
                          config.activation, seed=config.seed)
    view = network_view(model, data, probabilities=output_kind(config.loss))
    title = "Network" + (" (untrained: the initial weights)" if untrained else f" at epoch {snap.epoch}")
    st.plotly_chart(network_diagram(view, large=large, title=title, uirevision=f"network-{config.key}"),
                    key="network", config=CHART)
    st.caption(NETWORK_CAPTION)
