"""Playground: pick data, depth, width and activation; watch one model train."""
import streamlit as st

from nonlin_core.errors import DataError
from nonlin_ui import controls, resources, runs, views

st.title("Playground")
url_error = controls.init_from_url()
if url_error:
    st.warning(url_error)
config = controls.sidebar()
large = resources.large_fonts()
if config is None:
    st.stop()
controls.sync_url(config)
try:
    frame = resources.boundary_frame(config)
except DataError as exc:
    st.error(str(exc))
    st.stop()
handle = runs.controls([config], "pg")
views.single(handle, config, frame, large)
