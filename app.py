"""nonlin: process set-up, page config, the engine warmed once, navigation over pages/."""
import streamlit as st

from nonlin_core.tuning import configure_process
from nonlin_ui import resources

configure_process()   # threads, allocator, gc frozen: once per server process (a no-op on later reruns)
st.set_page_config(page_title="nonlin — non-linearity playground", page_icon="〰️", layout="wide")
resources.boot()
st.navigation([
    st.Page("pages/playground.py", title="Playground", icon=":material/tune:", default=True),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/activations.py", title="Activations", icon=":material/functions:"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/grid_on:"),
    st.Page("pages/challenge.py", title="Challenge", icon=":material/trophy:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
], position="top").run()
