"""Shared fixtures: a private data dir / store per test, the shared heart-failure file when present."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HEART_DIR = Path(os.environ.get("NONLIN_DATA_DIR") or SHARED_DATA)


@pytest.fixture
def heart_dir() -> Path:
    """Folder holding the UCI heart-failure CSV (../shared/data in CI)."""
    if not (HEART_DIR / "heart_failure_clinical_records_dataset.csv").exists():
        pytest.fail(f"heart-failure data missing in {HEART_DIR}; set NONLIN_DATA_DIR")
    return HEART_DIR


@pytest.fixture
def store_path(tmp_path, monkeypatch) -> Path:
    """A fresh SQLite run store for this test (NONLIN_STORE)."""
    path = tmp_path / "runs.sqlite3"
    monkeypatch.setenv("NONLIN_STORE", str(path))
    return path
