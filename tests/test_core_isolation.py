"""The engine never imports streamlit: every module of nonlin_core, imported in a fresh interpreter."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, pkgutil, importlib, sys
import nonlin_core
names = sorted(m.name for m in pkgutil.walk_packages(nonlin_core.__path__, "nonlin_core."))
culprit = "nonlin_core" if "streamlit" in sys.modules else None
for name in names:
    if name != "nonlin_core.__main__":          # runs the CLI; it only imports nonlin_core.cli
        importlib.import_module(name)
    if culprit is None and "streamlit" in sys.modules:
        culprit = name
print(json.dumps({"modules": names, "culprit": culprit, "streamlit": "streamlit" in sys.modules}))
"""


def test_core_never_imports_streamlit():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    on_disk = {f"nonlin_core.{p.stem}" for p in (ROOT / "nonlin_core").glob("*.py") if p.stem != "__init__"}
    assert on_disk <= set(result["modules"])                  # discovery saw every file
    assert {"nonlin_core.jobs", "nonlin_core.training", "nonlin_core.store", "nonlin_core.datasets"} <= on_disk
    assert not result["streamlit"], f"importing {result['culprit']} imported streamlit"

