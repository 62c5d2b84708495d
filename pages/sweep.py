"""Sweep: activation × depth × width over seeds, trained batched by shape; where does bending start?"""
import streamlit as st

from nonlin_ui import resources, runs, share, sweep_view

st.title("Sweep")
st.caption("Each shape's activations × seeds train as one batched computation. A cell is the mean test "
           "accuracy over its seeds; depth 0 is the linear model whatever the activation.")
if url_error := share.restore_once("sweep", sweep_view.sweep_state, ("activations", "depths", "widths")):
    st.warning(url_error)
spec = sweep_view.sidebar()
large = resources.large_fonts()
if spec is None:
    st.stop()
share.sync(spec.to_query())
share.copy_link()
sweep = sweep_view.current(spec)
c1, c2, _ = st.columns([2, 1, 3])          # "Run sweep" fits at 1024 px
if c1.button("Run sweep", key="btn_sw_run", type="primary", width="stretch"):
    sweep = sweep_view.start(spec) or sweep
if c2.button("Stop", key="btn_sw_stop", disabled=sweep is None or sweep.finished, width="stretch"):
    sweep.cancel()


training = sweep is not None and not sweep.finished


def live() -> None:
    sweep_view.heatmaps(spec, sweep, large)
    if training and sweep.finished:
        st.rerun()                     # the whole page: stop the timer, enable the buttons


runs.timed_fragment(live, 0.5 if training else None)
st.subheader("Open a cell's run")
sweep_view.open_cell(spec)
