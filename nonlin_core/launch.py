"""`nonlin ui`: find the dashboard (this checkout, or the copy a wheel installs as `nonlin_app`) and build the
`streamlit run` command line. Streamlit itself runs in the exec'd process; the core never imports it."""
from __future__ import annotations

import importlib.util
import os
import sys
import tomllib
from pathlib import Path

# the flags of `make run`: no browser, no file watcher (a venv in the folder floods inotify), no telemetry
SERVE_OPTIONS = {"server.headless": "true", "server.fileWatcherType": "none", "browser.gatherUsageStats": "false"}


def app_dir() -> Path:
    """Folder holding app.py, pages/ and .streamlit/: the source checkout first, else the installed copy."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "app.py").is_file() and (checkout / "pages").is_dir():
        return checkout
    spec = importlib.util.find_spec("nonlin_app")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "app.py").is_file():
            return Path(folder)
    raise FileNotFoundError("the dashboard (app.py, pages/) is not installed; reinstall nonlin")


def config_options(folder: Path) -> dict[str, str]:
    """The app's .streamlit/config.toml as {"section.key": "value"} (streamlit reads it only from the cwd)."""
    path = folder / ".streamlit" / "config.toml"
    if not path.is_file():
        return {}

    def flat(table: dict, prefix: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in table.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[prefix + key] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    return flat(tomllib.loads(path.read_text()), "")


def _split_extra(extra: list[str]) -> tuple[dict[str, str], list[str]]:
    """`--a.b v` / `--a.b=v` pairs as options (so they override ours); anything else passed through as is."""
    options, rest, i = {}, [], 0
    while i < len(extra):
        token = extra[i]
        if token.startswith("--") and "." in token.split("=", 1)[0]:
            if "=" in token:
                key, value = token[2:].split("=", 1)
            elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
                key, value, i = token[2:], extra[i + 1], i + 1
            else:
                key, value = token[2:], "true"
            options[key] = value
        else:
            rest.append(token)
        i += 1
    return options, rest


def streamlit_argv(port: int = 8501, address: str = "127.0.0.1", extra: list[str] | None = None,
                   folder: Path | None = None) -> list[str]:
    """`python -m streamlit run <app.py> --section.key value …`: config.toml, then ours, then the caller's flags."""
    folder = folder or app_dir()
    options = {**config_options(folder), **SERVE_OPTIONS, "server.address": address, "server.port": str(port)}
    user_options, rest = _split_extra(list(extra or []))
    options.update(user_options)
    flags = [part for key, value in options.items() for part in (f"--{key}", value)]
    return [sys.executable, "-m", "nonlin_ui.serve", "run", str(folder / "app.py"), *flags, *rest]


def serve_env(folder: Path | None = None) -> dict[str, str]:
    """The environment for streamlit_argv: a checkout's folder first on PYTHONPATH, so `-m nonlin_ui.serve`
    finds this checkout's nonlin_ui from any working directory (an installed copy is on the path anyway)."""
    folder = folder or app_dir()
    env = dict(os.environ)
    if (folder / "nonlin_ui").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH", "")) if p)
    return env
