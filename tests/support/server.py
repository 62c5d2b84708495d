"""The real Streamlit server and chromium settings for the browser tests (shared with bench/, which owns them)."""
from bench.server import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer, free_port

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "ROOT", "StreamlitServer", "free_port"]
