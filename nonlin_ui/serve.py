"""`python -m nonlin_ui.serve run app.py …` (what `nonlin ui` execs): Streamlit's own command line, with app.py's
st.navigation in charge from the very first request.

Streamlit 1.67 decides once per process, when the first session connects, whether the app is an old-style
multipage app (a pages/ folder beside the main script). Until some session's app.py has reached st.navigation,
a first visit to a deep link such as /compare ran pages/compare.py as a bare script: no page config, no job
manager, a traceback ("st.session_state has no attribute handles") under Streamlit's own page list. nonlin's
pages/ are st.Page targets of app.py, never pages of their own, so the answer is settled before the server starts
(streamlit.runtime.pages_manager.PagesManager.uses_pages_directory; st.navigation sets it to False as well)."""
from __future__ import annotations

import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main

from nonlin_ui import queue_fix

PagesManager.uses_pages_directory = False
queue_fix.install()          # reference messages of a rerunning fragment dropped with its other deltas (see there)

if __name__ == "__main__":
    sys.argv[0] = "streamlit"
    sys.exit(main())
