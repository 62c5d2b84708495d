"""Challenge leaderboard in the run store: runs the server trained, ranked by test accuracy, then parameters,
then time; names kept as typed; only the teacher key opens, closes and clears."""
import pytest

from nonlin_core.challenge import CHALLENGES, ChallengeError, Leaderboard, check_name, parameter_count
from nonlin_core.config import ConfigError
from nonlin_core.jobs import JobManager
from nonlin_core.store import SQLiteStore

CIRCLES = CHALLENGES["circles-80"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store holding three finished circles runs (linear, a small ReLU net, a larger ReLU net) and one on
    other data; yields (store, {label: config})."""
    store = SQLiteStore(tmp_path_factory.mktemp("challenge") / "runs.sqlite3")
    manager = JobManager(store, max_workers=1, max_per_owner=8)
    base = CIRCLES.data.replace(optimizer="adam", lr=0.03, epochs=150)
    configs = {"linear": base.replace(hidden_layers=(), activation="none"),
               "small": base.replace(hidden_layers=(8,), activation="relu"),
               "large": base.replace(hidden_layers=(16, 16), activation="relu"),
               "moons": base.replace(dataset="moons", noise=0.2, hidden_layers=(4,))}
    handles = [manager.submit_batch([c]) for c in configs.values()]
    assert all(h.wait(300) for h in handles)
    yield store, configs
    manager.shutdown()
    store.close()


@pytest.fixture
def board(trained, monkeypatch):
    monkeypatch.setenv("NONLIN_TEACHER_KEY", "s3cret")
    board = Leaderboard(trained[0])
    board.clear("circles-80", "s3cret")
    board.set_status("circles-80", "open", "s3cret")
    return board


def test_ranking_is_accuracy_then_fewest_parameters_then_earliest_from_the_stored_runs(trained, board):
    store, configs = trained
    scores = {k: store.get(c.key) for k, c in configs.items()}
    for name, label in (("ann", "linear"), ("bob", "large"), ("cy", "small"), ("dee", "small")):
        entry = board.submit("circles-80", name, configs[label].key, owner=name)
        assert entry.test_acc == scores[label].final["test_acc"]              # read from the store, not sent
        assert entry.params == parameter_count(scores[label].state_dict)
    ranking = board.ranking("circles-80")
    expected = sorted(ranking, key=lambda e: (-e.test_acc, e.params, e.submitted_at))
    assert [e.name for e in ranking] == [e.name for e in expected] and [e.rank for e in ranking] == [1, 2, 3, 4]
    assert ranking[-1].name == "ann" and ranking[-1].test_acc < CIRCLES.target     # a line cannot beat 80%
    assert max(e.test_acc for e in ranking) > CIRCLES.target
    cy, dee = (next(e for e in ranking if e.name == n) for n in ("cy", "dee"))
    assert cy.rank < dee.rank                                       # same run, same score: the earlier first
    assert scores["small"].state_dict and parameter_count(scores["small"].state_dict) == 2 * 8 + 8 + 8 + 1
    assert Leaderboard(store).ranking("circles-80") == ranking      # another session's view of the same store
    board.submit("circles-80", "cy", configs["small"].key)          # the same entry twice: still one row
    assert len(board.ranking("circles-80")) == 4


def test_names_are_kept_as_typed_and_bad_names_are_refused(trained, board):
    _, configs = trained
    markup = "<b>x</b><script>"
    assert board.submit("circles-80", f"  {markup}  ", configs["small"].key).name == markup
    assert check_name("Zoë 🙂") == "Zoë 🙂"
    for bad, why in (("", "1–24"), ("   ", "1–24"), ("x" * 25, "25 given"), ("a\nb", "control")):
        with pytest.raises(ChallengeError, match=why):
            board.submit("circles-80", bad, configs["small"].key)


def test_a_submission_must_be_a_finished_run_of_this_server_on_the_challenge_data(trained, board):
    _, configs = trained
    with pytest.raises(ChallengeError, match="no such run"):
        board.submit("circles-80", "eve", "0123456789abcdef")
    with pytest.raises(ChallengeError, match="other data"):
        board.submit("circles-80", "eve", configs["moons"].key)
    with pytest.raises(ConfigError, match="challenge"):
        board.submit("circles-99", "eve", configs["small"].key)
    assert board.ranking("circles-80") == []


def test_only_the_teacher_key_closes_opens_and_clears(trained, board, monkeypatch):
    _, configs = trained
    board.submit("circles-80", "ann", configs["small"].key)
    with pytest.raises(ChallengeError, match="wrong teacher key"):
        board.clear("circles-80", "guess")
    with pytest.raises(ChallengeError, match="wrong teacher key"):
        board.set_status("circles-80", "closed", "")
    assert len(board.ranking("circles-80")) == 1 and board.status("circles-80") == "open"
    board.set_status("circles-80", "closed", "s3cret")
    with pytest.raises(ChallengeError, match="closed"):
        board.submit("circles-80", "bob", configs["large"].key)
    board.set_status("circles-80", "open", "s3cret")
    monkeypatch.delenv("NONLIN_TEACHER_KEY")
    for key in ("", "s3cret"):
        with pytest.raises(ChallengeError, match="teacher controls are off"):
            board.clear("circles-80", key)
    assert len(board.ranking("circles-80")) == 1
    monkeypatch.setenv("NONLIN_TEACHER_KEY", "s3cret")
    assert board.clear("circles-80", "s3cret") == 1 and board.ranking("circles-80") == []
