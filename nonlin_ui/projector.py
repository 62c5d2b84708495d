"""Projector mode (?present=1 or the sidebar toggle): all text enlarged, the page's chrome trimmed so the
boundary, curves and status fit a 1280×720 screen; and the controls a teacher's link hides (&hide=lr,...)."""
from __future__ import annotations

import streamlit as st

from nonlin_core import links

# rem-based theme sizes scale with the root font; the top padding and the title shrink to what a slide needs
CSS = """<style>
html { font-size: 20px; }
[data-testid="stMainBlockContainer"] { padding: 4rem 1.5rem 1rem 1.5rem; }
[data-testid="stMainBlockContainer"] [data-testid="stHeading"]:has(h1) { display: none; }
[data-testid="stMainBlockContainer"] [data-testid="stHorizontalBlock"]
  :is([data-testid="stElementContainer"]:has(.stButton, .stCheckbox), .stButton, .stButton button)
  { width: auto !important; flex: 0 0 auto !important; }
[data-testid="stMainBlockContainer"] .stButton button { min-width: 3.5rem; padding: 0.2rem 0.7rem; }
[data-testid="stMainBlockContainer"] [data-testid="stHorizontalBlock"]:has(> [data-testid="stElementContainer"] .stButton)
  { gap: 0.5rem; }
[data-testid="stAlertContainer"] { padding: 0.35rem 0.8rem; }
[data-testid="stSidebarUserContent"] { padding-top: 0.5rem; }
[data-testid="stCaptionContainer"], [data-testid="stWidgetLabel"] p, [data-testid="stMarkdownContainer"] p,
[data-testid="stAlertContainer"] p { font-size: 1rem; }
[data-testid="stDataFrame"] { --gdg-font-size: 1rem; }
</style>"""
# widget key -> the config field it sets (what `hide=` names)
WIDGET_FIELD = {"pg_dataset": "dataset", "pg_samples": "n_samples", "pg_noise": "noise", "pg_classes": "n_classes",
                "pg_test": "test_size", "pg_data_seed": "data_seed", "pg_standardize": "standardize",
                "pg_depth": "hidden_layers", "pg_width": "hidden_layers", "pg_activation": "activation",
                "pg_optimizer": "optimizer", "pg_lr": "lr", "pg_momentum": "momentum", "pg_batch": "batch_size",
                "pg_epochs": "epochs", "pg_seed": "seed", "upload_csv": "csv_sha256", "pg_target": "target",
                "pg_pair_x": "plot_features", "pg_pair_y": "plot_features"}


def toggle() -> bool:
    """The sidebar's Projector mode toggle (on at first when the link says ?present=1); its CSS when on."""
    s = st.session_state
    if "ui_present" not in s:
        s.ui_present = links.truthy(st.query_params.to_dict(), "present")
    on = st.sidebar.toggle("Projector mode", key="ui_present",
                           help="Larger text everywhere and less padding: the boundary, curves and status fit a "
                                "1280×720 projector. Links with ?present=1 open in it.")
    if on:
        st.html(CSS)
    if on != links.truthy(st.query_params.to_dict(), "present"):
        if on:
            st.query_params["present"] = "1"
        else:
            st.query_params.pop("present", None)
    return on


def read_hidden() -> str:
    """On a link's first load: the controls it hides (session state 'hide_fields'); a message when `hide` is bad."""
    try:
        st.session_state.hide_fields = links.hidden_controls(st.query_params.to_dict())
    except links.ConfigError as exc:
        st.session_state.hide_fields = frozenset()
        return f"The link's hide option was not used: {exc}"
    return ""


class HidingSidebar:
    """st.sidebar, but a widget whose key sets a hidden field is not drawn (its state keeps the link's value)."""

    def __init__(self, hidden: frozenset[str]):
        self.hidden = hidden

    def __getattr__(self, name: str):
        draw = getattr(st.sidebar, name)

        def call(*args, **kwargs):
            key = kwargs.get("key")
            if WIDGET_FIELD.get(key) in self.hidden:
                return st.session_state.get(key)
            return draw(*args, **kwargs)
        return call


def sidebar() -> HidingSidebar:
    """The Playground's sidebar with this session's hidden controls."""
    return HidingSidebar(st.session_state.get("hide_fields", frozenset()))


def fixed_note(config) -> None:
    """A sidebar line naming the settings the link fixed, with their values."""
    hidden = sorted(st.session_state.get("hide_fields", ()))
    if hidden and config is not None:
        values = ", ".join(f"{f} = {links.join(v) if isinstance(v := getattr(config, f), tuple) else v}"
                           for f in hidden)
        st.sidebar.caption(f":material/lock: Fixed by this link: {values}")
