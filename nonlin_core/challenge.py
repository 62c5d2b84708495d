"""Class challenges: fixed data, a target to beat, and a leaderboard of stored runs kept in the run store.
A submission names a run the server trained (its key); its score is read from the stored run, never sent."""
from __future__ import annotations

import hmac
import os
import time
import unicodedata
import uuid
from dataclasses import dataclass

from .config import RunConfig
from .errors import ConfigError

TEACHER_KEY_ENV = "NONLIN_TEACHER_KEY"
NAME_LENGTH = (1, 24)
DATA_FIELDS = ("dataset", "n_samples", "noise", "n_classes", "data_seed", "test_size", "standardize", "csv_path",
               "csv_sha256", "target", "loss")
STATUSES = ("open", "closed")


class ChallengeError(ValueError):
    """A submission or teacher action that is refused; the message says why."""


@dataclass(frozen=True)
class Challenge:
    """Fixed data (the data fields of `data`) and the test accuracy to beat."""
    title: str
    text: str
    data: RunConfig
    target: float

    def fits(self, config: RunConfig) -> bool:
        """True when config trains on exactly this challenge's data."""
        return all(getattr(config, f) == getattr(self.data, f) for f in DATA_FIELDS)

    def starting_point(self) -> RunConfig:
        """The config a student starts from: the challenge's data, a linear model."""
        return self.data.replace(hidden_layers=(), activation="none")


# the circles article's exercise first; the rest a teacher can pick
CHALLENGES: dict[str, Challenge] = {
    "circles-80": Challenge("Circles: beat 80% test accuracy",
                            "1000 points on two circles, noise 0.03, 20% held out (the circles article's data). "
                            "A straight line gets about half right: bend it.",
                            RunConfig(dataset="circles", n_samples=1000, noise=0.03, data_seed=42, test_size=0.2,
                                      epochs=1000), 0.80),
    "moons-95": Challenge("Moons: beat 95% test accuracy",
                          "1000 points on two interleaving half-moons, noise 0.2, 20% held out.",
                          RunConfig(dataset="moons", n_samples=1000, noise=0.2, data_seed=42, test_size=0.2,
                                    optimizer="adam", lr=0.01, epochs=300), 0.95),
    "xor-95": Challenge("XOR: beat 95% test accuracy",
                        "Four corners, opposite ones alike: no single line can split them.",
                        RunConfig(dataset="xor", n_samples=1000, noise=0.05, data_seed=42, test_size=0.2,
                                  optimizer="adam", lr=0.01, epochs=300), 0.95),
    "spiral-90": Challenge("Spiral: beat 90% test accuracy",
                           "Three interleaved spiral arms, noise 0.1: depth and width matter.",
                           RunConfig(dataset="spiral", n_samples=1000, n_classes=3, noise=0.1, loss="ce",
                                     data_seed=42, test_size=0.2, optimizer="adam", lr=0.01, epochs=600), 0.90),
}


@dataclass(frozen=True)
class Entry:
    """One leaderboard row (rank from 1)."""
    rank: int
    name: str
    test_acc: float
    params: int
    model: str
    run_key: str
    submitted_at: float


def check_name(name: str) -> str:
    """A display name, stripped: 1-24 printable characters (kept as typed; shown as text)."""
    name = (name or "").strip()
    low, high = NAME_LENGTH
    if not low <= len(name) <= high:
        raise ChallengeError(f"name: give {low}–{high} characters ({len(name)} given)")
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ChallengeError("name: control characters are not allowed")
    return name


def check_teacher(key: str) -> None:
    """Raise ChallengeError unless key is this server's teacher key (NONLIN_TEACHER_KEY; unset: no teacher)."""
    expected = os.environ.get(TEACHER_KEY_ENV, "")
    if not expected:
        raise ChallengeError(f"teacher controls are off on this server ({TEACHER_KEY_ENV} is not set)")
    if not hmac.compare_digest((key or "").encode(), expected.encode()):
        raise ChallengeError("wrong teacher key: nothing was changed")


def teacher_enabled() -> bool:
    """True when this server has a teacher key."""
    return bool(os.environ.get(TEACHER_KEY_ENV, ""))


def model_text(config: RunConfig) -> str:
    """'2→10→10→1 relu · adam lr 0.01 · 300 ep'."""
    shape = "→".join(str(w) for w in config.hidden_layers) or "linear"
    act = "" if not config.hidden_layers else f" {config.activation}"
    return f"{shape}{act} · {config.optimizer} lr {config.lr:g} · {config.epochs} ep"


def parameter_count(state_dict: dict | None) -> int:
    """Trainable numbers in a stored model."""
    return int(sum(v.numel() for v in (state_dict or {}).values()))


class Leaderboard:
    """Challenges' status and submissions, in two tables of the run store (standard SQL only)."""

    def __init__(self, store):
        self.store = store               # its tables come with the store's schema (store_sql.LEADERBOARD)

    def status(self, challenge: str) -> str:
        """'open' (also when no teacher ever touched it) or 'closed'."""
        _challenge(challenge)
        rows = self.store.execute("SELECT status FROM challenges WHERE name=?", (challenge,))
        return rows[0][0] if rows else "open"

    def set_status(self, challenge: str, status: str, key: str) -> None:
        """Open or close a challenge (teacher key required)."""
        _challenge(challenge)
        if status not in STATUSES:
            raise ChallengeError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
        check_teacher(key)
        self.store.execute("INSERT INTO challenges (name, status, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                           "DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at",
                           (challenge, status, time.time()))

    def clear(self, challenge: str, key: str) -> int:
        """Delete every submission of a challenge (teacher key required); how many there were."""
        _challenge(challenge)
        check_teacher(key)
        n = self.store.execute("SELECT COUNT(*) FROM submissions WHERE challenge=?", (challenge,))[0][0]
        self.store.execute("DELETE FROM submissions WHERE challenge=?", (challenge,))
        return int(n)

    def submit(self, challenge: str, name: str, run_key: str, owner: str = "") -> Entry:
        """Enter a finished stored run under a display name; its score comes from the store. Its Entry."""
        spec = _challenge(challenge)
        name = check_name(name)
        if self.status(challenge) != "open":
            raise ChallengeError("this challenge is closed: the teacher can open it again")
        record = self.store.get(run_key)
        if record is None:
            raise ChallengeError("no such run on this server: train it here first")
        if record.status != "done" or not record.final:
            raise ChallengeError(f"only a finished run can be submitted (this one is {record.status})")
        if not spec.fits(record.config):
            raise ChallengeError("this run trained on other data: keep the challenge's data settings")
        self.store.execute(
            "INSERT INTO submissions (id, challenge, name, run_key, owner, test_acc, params, model, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (challenge, name, run_key) DO NOTHING",
            (uuid.uuid4().hex, challenge, name, run_key, owner, float(record.final["test_acc"]),
             parameter_count(record.state_dict), model_text(record.config), time.time()))
        return next(e for e in self.ranking(challenge) if e.name == name and e.run_key == run_key)

    def ranking(self, challenge: str, limit: int = 100) -> list[Entry]:
        """Best test accuracy first, then fewest parameters, then the earliest submission."""
        _challenge(challenge)
        rows = self.store.execute(
            "SELECT name, test_acc, params, model, run_key, created_at FROM submissions WHERE challenge=? "
            "ORDER BY test_acc DESC, params ASC, created_at ASC LIMIT ?", (challenge, limit))
        return [Entry(i + 1, *row) for i, row in enumerate(rows)]


def _challenge(name: str) -> Challenge:
    try:
        return CHALLENGES[name]
    except KeyError:
        raise ConfigError(f"challenge: {name!r} is not one of {', '.join(CHALLENGES)}") from None
