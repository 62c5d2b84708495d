"""The Playground's gradient-flow panel: per-layer gradient norms over the epochs, saturated and dead units."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from nonlin_core.config import RunConfig
from nonlin_core.flow_plots import gradient_flow

from . import held, resources

CHART = {"displaylogo": False}
CAPTION = ("Each layer's weight-gradient norm at every epoch (log axis). In deep sigmoid/tanh nets the layers "
           "near the input get far smaller gradients than the output layer (vanishing gradients): saturated "
           "units pass almost none back, and a dead ReLU passes none.")
NOT_YET = "Gradient flow: each layer's gradient norm, drawn here from the first epoch of a run."
NOT_STORED = "Gradient flow is recorded while a run trains; this run came from the run store without it."


def panel(snap, config: RunConfig, large: bool, hold: bool = False) -> None:
    """The figure for member 0 of snap and a one-line reading of it; a caption alone while there is nothing to draw.
    hold: as drawn last time (a Train click's response: held.drawn)."""
    held.drawn("flow", resources.data_config(config).key, hold, lambda: _drawing(snap, config, large))


def _drawing(snap, config: RunConfig, large: bool) -> Callable[[], None]:
    norms = snap.grad_norm[0] if snap is not None and snap.grad_norm is not None else None
    if norms is None or not len(norms):
        text = NOT_STORED if snap is not None and snap.done and snap.grad_norm is None else NOT_YET
        return lambda: st.caption(text)
    fig = held.held("flow", config.key, not snap.done, lambda: gradient_flow(
        norms, epochs=config.epochs, large=large, uirevision=f"flow-{config.key}",
        saturated=None if snap.saturated is None else snap.saturated[0], dead=None if snap.dead is None else snap.dead[0]))

    def draw() -> None:
        st.markdown("**Gradient flow**")
        st.plotly_chart(fig, key="grad_flow", config=CHART)
        st.caption(CAPTION)
    return draw
