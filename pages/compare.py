"""Compare: the same data and seed, models that differ in one thing, side by side."""
import streamlit as st

from nonlin_core.errors import DataError
from nonlin_ui import controls, resources, runs, share, views

st.title("Compare")
st.caption("Same data, same seed, same layers: only one thing differs. Which boundary can bend?")
if url_error := share.restore_once("compare", controls.compare_state, ("vary", "values")):
    st.warning(url_error)
spec = controls.compare_sidebar()
large = resources.large_fonts()
if spec is None:
    runs.controls(None, "cmp")                 # Train stays in view, disabled, under the sidebar's message
    st.stop()
share.sync(spec.to_query())
share.copy_link()
try:
    frame = resources.boundary_frame(spec.base)
except DataError as exc:
    st.error(controls.data_message(exc, spec.base.dataset))
    runs.controls(None, "cmp")
    st.stop()
handle = runs.controls(spec.configs(), "cmp")
views.compare(handle, spec, frame, large)
