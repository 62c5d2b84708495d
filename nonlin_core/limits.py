"""Server caps and per-job budgets, read from the environment (NONLIN_MAX_*) on every call.
They bound what a user asks for; stored runs are never checked against them."""
from __future__ import annotations

import math
import os

from .errors import ConfigError

CAP_DEFAULTS = {"samples": 20_000, "epochs": 5_000, "depth": 8, "width": 256, "batch": 4096, "classes": 10}
# units of work (see budget.py): 1e12 is 2-10 minutes of one worker on a 2-core development machine.
# Every page default, preset and lesson is below 1e11 (the largest: the moons preset, 7.5e10); the caps'
# maxima (20 000 samples x 5 000 epochs x 8 layers of 256: 4.6e13) are refused. The time limit is the
# backstop for a wrong estimate.
MAX_WORK_DEFAULT = 1e12
MAX_JOB_SECONDS_DEFAULT = 900.0
PAUSE_SECONDS_DEFAULT = 600.0


def cap(name: str, default: int) -> int:
    """Server cap from env var NONLIN_MAX_<NAME>, falling back to default."""
    raw = os.environ.get(f"NONLIN_MAX_{name.upper()}", "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError:
        raise ConfigError(f"env NONLIN_MAX_{name.upper()}={raw!r} is not an integer") from None


def caps() -> dict[str, int]:
    """The server caps in force (read from the environment each call)."""
    return {k: cap(k, v) for k, v in CAP_DEFAULTS.items()}


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"env {name}={raw!r} must be a number >= 0 (0 = no limit)")
    return value


def max_work() -> float:
    """NONLIN_MAX_WORK: the most units of work one job (a run, a batch, a sweep) may cost; 0 = no budget."""
    return _env_number("NONLIN_MAX_WORK", MAX_WORK_DEFAULT)


def max_job_seconds() -> float:
    """NONLIN_MAX_JOB_SECONDS: wall-clock limit of a running job, then it is stopped; 0 = no limit."""
    return _env_number("NONLIN_MAX_JOB_SECONDS", MAX_JOB_SECONDS_DEFAULT)


def pause_seconds() -> float | None:
    """NONLIN_PAUSE_SECONDS: a job paused this long is released (ended, stored "paused"); 0 = never (None)."""
    return _env_number("NONLIN_PAUSE_SECONDS", PAUSE_SECONDS_DEFAULT) or None
