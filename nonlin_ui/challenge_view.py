"""Challenge page helpers: the model controls (the data is the challenge's), submitting this session's run,
the class's leaderboard on a timer, and the teacher's controls (only when the server has a teacher key)."""
from __future__ import annotations

import streamlit as st

from nonlin_core.challenge import CHALLENGES, Challenge, ChallengeError, Leaderboard, teacher_enabled
from nonlin_core.config import ConfigError, RunConfig, caps
from nonlin_core.jobs import JobHandle
from nonlin_core.models import ACTIVATIONS

from . import controls, resources

BOARD_SECONDS = 2.0                    # every student's leaderboard refreshes this often


def board() -> Leaderboard:
    """The leaderboard in this server's run store."""
    return Leaderboard(resources.manager().store)


def _defaults(challenge: Challenge) -> None:
    data = challenge.data
    st.session_state.update(ch_depth=0, ch_width=8, ch_activation="relu", ch_optimizer=data.optimizer,
                            ch_lr=data.lr, ch_epochs=data.epochs, ch_seed=0)


def _picked() -> None:
    _defaults(CHALLENGES[st.session_state.ch_name])


def sidebar() -> tuple[str, RunConfig | None]:
    """The challenge picked and the model config the controls describe (None, with a message, when invalid)."""
    s, sb, limits = st.session_state, st.sidebar, caps()
    if s.get("ch_name") not in CHALLENGES:
        s.ch_name = next(iter(CHALLENGES))
        _defaults(CHALLENGES[s.ch_name])
    sb.selectbox("Challenge", list(CHALLENGES), key="ch_name", format_func=lambda n: CHALLENGES[n].title,
                 on_change=_picked)
    challenge = CHALLENGES[s.ch_name]
    sb.subheader("Your model")
    sb.slider("Hidden layers", 0, limits["depth"], key="ch_depth")
    sb.slider("Units per layer", 1, min(limits["width"], 64), key="ch_width")
    sb.pills("Activation", list(ACTIVATIONS), key="ch_activation", required=True, disabled=not s.ch_depth)
    sb.segmented_control("Optimizer", ["sgd", "adam", "adamw"], key="ch_optimizer", required=True)
    sb.select_slider("Learning rate", controls.LR_STEPS, key="ch_lr", format_func=lambda v: f"{v:g}")
    sb.number_input("Epochs", 1, limits["epochs"], step=50, key="ch_epochs")
    sb.number_input("Seed", 0, 2**31 - 1, key="ch_seed")
    try:
        return s.ch_name, challenge.data.replace(hidden_layers=(s.ch_width,) * s.ch_depth,
                                                 activation=s.ch_activation if s.ch_depth else "none",
                                                 optimizer=s.ch_optimizer, lr=s.ch_lr, epochs=s.ch_epochs,
                                                 seed=s.ch_seed).check_caps()
    except ConfigError as exc:
        st.error(str(exc))
        return s.ch_name, None


def submit_form(name: str, handle: JobHandle | None, config: RunConfig | None) -> None:
    """A display name and Submit: enters this session's finished run (the store has its score)."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.text_input("Your name on the leaderboard (1–24 characters, no account)", key="ch_student", max_chars=24)
    done = handle is not None and handle.status == "done" and config is not None
    if right.button("Submit this run", key="btn_ch_submit", type="primary", disabled=not done, width="stretch"):
        try:
            entry = board().submit(name, st.session_state.get("ch_student", ""), config.key,
                                   owner=st.session_state.owner)
        except (ChallengeError, ConfigError) as exc:
            st.error(str(exc))
        else:
            st.success(f"Submitted: test accuracy {entry.test_acc:.1%} with {entry.params} parameters — "
                       f"rank {entry.rank} on the board.")
    elif not done:
        st.caption("Train a model to the end, then submit it: the server scores the run it trained.")


def leaderboard(name: str) -> None:
    """The class's ranking, redrawn on a timer (names are table cells: text, never HTML)."""
    challenge = CHALLENGES[name]
    entries, status = board().ranking(name), board().status(name)
    if status == "closed":
        st.warning("This challenge is closed: no new submissions.")
    if not entries:
        st.info("No submissions yet: be the first.")
        return
    rows = [{"rank": e.rank, "name": e.name, "test accuracy": e.test_acc, "parameters": e.params, "model": e.model,
             "beats target": "✓" if e.test_acc > challenge.target else ""} for e in entries]
    st.dataframe(rows, key="ch_board", hide_index=True, width="stretch", column_config={
        "test accuracy": st.column_config.ProgressColumn("test accuracy", min_value=0.0, max_value=1.0,
                                                         format="percent")})


def teacher(name: str) -> None:
    """Open, close and clear: shown only when the server has NONLIN_TEACHER_KEY; every action checks the key."""
    if not teacher_enabled():
        return
    with st.expander("Teacher", icon=":material/school:"):
        st.text_input("Teacher key", type="password", key="ch_key")
        cols = st.columns(3)
        actions = {"open": cols[0].button("Open", key="btn_ch_open"),
                   "closed": cols[1].button("Close", key="btn_ch_close"),
                   "clear": cols[2].button("Clear the board", key="btn_ch_clear")}
        action = next((a for a, clicked in actions.items() if clicked), None)
        if action is None:
            return
        try:
            if action == "clear":
                st.success(f"Cleared {board().clear(name, st.session_state.ch_key)} submissions.")
            else:
                board().set_status(name, action, st.session_state.ch_key)
                st.success(f"The challenge is {action}.")
        except ChallengeError as exc:
            st.error(str(exc))
