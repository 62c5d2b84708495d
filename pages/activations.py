"""Activations: every function with its derivative, and what each layer of a trained run does."""
import streamlit as st

from nonlin_ui import layers, resources, share

st.title("Activations")
if url_error := share.restore_once("activations", layers.activations_state, ("run",)):
    st.warning(url_error)
large = resources.large_fonts()
st.caption("Solid: f(x). Dashed: its derivative f′(x), which scales the gradient flowing back through the unit.")
st.plotly_chart(layers.activation_figure(large), key="activation_curves", config=layers.CHART)

st.header("Inside a trained run")
choices = layers.run_choices()
if (linked := st.session_state.get("act_run")) and linked not in choices and st.session_state.get("act_linked_label"):
    choices[linked] = st.session_state.act_linked_label          # a linked run older than the list's newest
if not choices:
    st.info("No finished runs yet: train one on the Playground or Compare page.")
    share.copy_link({})
    st.stop()
if st.session_state.get("act_run") not in choices:
    st.session_state.act_run = next(iter(choices))
st.selectbox("Run", list(choices), key="act_run", format_func=choices.get)
st.session_state.setdefault("act_samples", 48)
st.slider("Test samples shown", 8, 128, step=8, key="act_samples")
share.sync(layers.activations_query(st.session_state.act_run, st.session_state.act_samples))
share.copy_link()
layers.show_layers(st.session_state.act_run, st.session_state.act_samples, large)
