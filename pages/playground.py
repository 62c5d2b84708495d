"""Playground: pick data, depth, width and activation; watch one model train."""
from functools import partial

import streamlit as st

from nonlin_core.errors import DataError
from nonlin_ui import bridge, controls, projector, resources, runs, share, views

st.title("Playground")
url_error = controls.init_from_url()
if url_error:
    st.warning(url_error)
config = controls.sidebar(on_activation=partial(runs.activation_click, "pg"))
projector.fixed_note(config)
large = resources.large_fonts()
if config is None:
    runs.controls(None, "pg")                 # Train stays in view, disabled, under the sidebar's message
    st.stop()
controls.sync_url(config)
share.copy_link()
try:
    frame = resources.boundary_frame(config)
except DataError as exc:
    st.error(controls.data_message(exc, config.dataset))
    runs.controls(None, "pg")
    st.stop()
handle = runs.controls([config], "pg", lab=True)
views.single(handle, config, frame, large, slot="pg")
bridge.next_runs(controls.next_runs(config))
