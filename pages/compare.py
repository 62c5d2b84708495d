"""Compare: the same data and seed, models that differ in one thing, side by side."""
import streamlit as st

from nonlin_core.errors import DataError
from nonlin_ui import controls, resources, runs, views

st.title("Compare")
st.caption("Same data, same seed, same layers: only one thing differs. Which boundary can bend?")
chosen = controls.compare_sidebar()
large = resources.large_fonts()
if chosen is None:
    st.stop()
configs, labels, n_seeds = chosen
try:
    frame = resources.boundary_frame(configs[0])
except DataError as exc:
    st.error(str(exc))
    st.stop()
handle = runs.controls(configs, "cmp")
views.compare(handle, configs, labels, n_seeds, frame, large)
