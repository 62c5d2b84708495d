"""Shared fixtures: a private data folder for the session, the packaged heart-failure file, a store per test,
and the app under AppTest."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nonlin_core import datasets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def private_data_dir(tmp_path_factory) -> Path:
    """NONLIN_DATA_DIR for the whole session: a fresh empty folder, never the user's (or a shared) one."""
    path = tmp_path_factory.mktemp("nonlin-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NONLIN_DATA_DIR", str(path))
        mp.delenv("NONLIN_STORE", raising=False)
        yield path


@pytest.fixture
def heart_dir(tmp_path_factory) -> Path:
    """A folder holding the UCI heart-failure CSV: a copy of the one shipped in nonlin_core/data."""
    folder = tmp_path_factory.mktemp("heart")
    shutil.copy(datasets.HEART_PACKAGED, folder / datasets.HEART_FILE)
    return folder


@pytest.fixture
def store_path(tmp_path, monkeypatch) -> Path:
    """A fresh SQLite run store for this test (NONLIN_STORE)."""
    path = tmp_path / "runs.sqlite3"
    monkeypatch.setenv("NONLIN_STORE", str(path))
    return path


@pytest.fixture
def app(store_path):
    """make(page=None, query=None, pace=False) -> an AppTest of app.py, run, opened with these URL params (the
    first run is the page load, the only one that reads the URL) and switched to pages/<page>.py, on its own store,
    the Playground's watchable pace off unless pace=True;
    the training threads are stopped after the test."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def make(page: str | None = None, query: dict | None = None, *, pace: bool = False) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.query_params.update(query or {})
        if not pace:
            at.session_state["pg_watchable_pace"] = False    # runs show as they train (pace: its own tests)
        at.run()
        if page:
            at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        return at

    yield make
    st.cache_resource.clear()        # on_release: JobManager.shutdown joins the training threads
    st.cache_data.clear()


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the session (skipped where PostgreSQL is not installed,
    except in CI, where `make test` installs it)."""
    import os

    from tests.support.postgres import PostgresCluster, bindir
    found = bindir()
    if found is None:
        message = "PostgreSQL is not installed (apt-get install postgresql; `make postgresql`)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    cluster = PostgresCluster(found)
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres, monkeypatch) -> str:
    """A fresh PostgreSQL database for this test (NONLIN_STORE)."""
    url = postgres.create_database()
    monkeypatch.setenv("NONLIN_STORE", url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path, monkeypatch) -> str:
    """A fresh run store of each backend for this test (NONLIN_STORE): an SQLite file, a PostgreSQL database."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    path = str(tmp_path / "runs.sqlite3")
    monkeypatch.setenv("NONLIN_STORE", path)
    return path
