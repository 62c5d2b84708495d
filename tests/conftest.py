"""Fixtures every test may use (defined in tests/support/fixtures.py): private_data_dir (autouse), heart_dir,
store_path, app (AppTest)."""
from tests.support.fixtures import app, heart_dir, private_data_dir, store_path

__all__ = ["app", "heart_dir", "private_data_dir", "store_path"]
