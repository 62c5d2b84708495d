"""Links for every page: restore a page's widgets from its link once per session, keep the URL in step with
the page's state, and a Copy-link button (the Lessons page uses it too)."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import streamlit as st

from nonlin_core.errors import ConfigError
from nonlin_core.links import VIEW_PARAMS

LINK_WARNING = "The link's settings were not used (defaults instead): "


def restore_once(page: str, state_of: Callable[[dict[str, str]], dict], marks: tuple[str, ...]) -> str:
    """First run of a page in this session, when its link has one of `marks`: widget state from
    state_of(params). Returns a message naming the bad field when the link could not be used (defaults kept)."""
    flag = f"linked_{page}"
    if st.session_state.get(flag):
        return ""
    st.session_state[flag] = True
    params = {k: v for k, v in st.query_params.to_dict().items() if k not in VIEW_PARAMS}
    if not any(m in params for m in marks):
        return ""
    try:
        state = state_of(params)
    except ConfigError as exc:
        return f"{LINK_WARNING}{exc}"
    st.session_state.update(state)
    return ""


def sync(query: dict[str, str]) -> None:
    """The URL shows this page's state (and keeps the view options: present, hide)."""
    query = {**query, **{k: v for k, v in st.query_params.to_dict().items() if k in VIEW_PARAMS}}
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def page_url(query: dict[str, str]) -> str:
    """This page's address with query as its params."""
    base = (st.context.url or "").split("?", 1)[0]
    return base + ("?" + urlencode(query) if query else "")


def copy_link(query: dict[str, str] | None = None) -> None:
    """Sidebar 'Copy link': the page's link in a code box whose copy icon puts it on the clipboard."""
    query = st.query_params.to_dict() if query is None else query
    with st.sidebar.popover("Copy link", icon=":material/link:", width="stretch"):
        st.code(page_url(query), language=None, wrap_lines=True)
        st.caption("Copy it with the icon at its right. Opened elsewhere, it shows this page as it is now.")
