"""Test support: fixtures, the real-server launcher and chromium settings (tests import it; bench never does)."""
