"""Challenge: the class trains on the same data and submits runs; a live leaderboard ranks them."""
import streamlit as st

from nonlin_core.challenge import CHALLENGES
from nonlin_core.errors import DataError
from nonlin_ui import challenge_view, controls, resources, runs, views

st.title("Challenge")
name, config = challenge_view.sidebar()
large = resources.large_fonts()
challenge = CHALLENGES[name]
st.markdown(f"**{challenge.title}.** {challenge.text}")
st.caption(f"Everyone trains on the same data ({controls.display_name(challenge.data.dataset)}, "
           f"{challenge.data.n_samples} samples, noise {challenge.data.noise:g}, test share "
           f"{challenge.data.test_size:g}); the board ranks by test accuracy, then fewest parameters, then time.")
try:
    frame = resources.boundary_frame(challenge.data)
except DataError as exc:
    st.error(controls.data_message(exc, challenge.data.dataset))
    st.stop()
handle = runs.controls([config] if config else None, "ch")
challenge_view.submit_form(name, handle, config)
st.subheader("Leaderboard")
# one timer per page (runs.live): while this session's run trains, its timer redraws; the board follows at the end
runs.timed_fragment(lambda: challenge_view.leaderboard(name),
                    challenge_view.BOARD_SECONDS if runs.phase(handle) == "idle" else None)
challenge_view.teacher(name)
if config is not None:
    views.single(handle, config, frame, large)
