"""Fixtures every test may use (defined in tests/support/fixtures.py): private_data_dir (autouse), heart_dir,
store_path, app (AppTest),
postgres (a throwaway cluster), pg_url and store_url (each backend)."""
from tests.support.fixtures import app, heart_dir, pg_url, postgres, private_data_dir, store_path, store_url

__all__ = ["app", "heart_dir", "pg_url", "postgres", "private_data_dir", "store_path", "store_url"]
