"""Links in new sessions (AppTest): the Playground's teacher options (present, hide), an upload named by its hash;
Compare, Sweep and Activations restore their state from their links; a malformed value names its field."""
from __future__ import annotations

import numpy as np

from nonlin_core.config import RunConfig


def texts(at, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def keys(at) -> set[str]:
    return {w.key for w in at.sidebar if getattr(w, "key", None)}


def test_a_teacher_link_hides_controls_and_keeps_their_values_through_reruns(app):
    at = app(query={"present": "1", "hide": "optimizer,lr,batch_size", "lr": "0.3", "optimizer": "adam"})
    assert not {"pg_optimizer", "pg_lr", "pg_batch"} & keys(at) and {"pg_dataset", "pg_epochs"} <= keys(at)
    assert at.toggle(key="ui_present").value
    assert any("Fixed by this link" in c.value and "lr = 0.3" in c.value for c in at.sidebar.caption)
    at.number_input(key="pg_epochs").set_value(40).run()
    at.run()
    query = dict(at.query_params.items())
    assert query["lr"] == "0.3" and query["optimizer"] == "adam" and query["epochs"] == "40"
    assert query["present"] == "1" and query["hide"] == "optimizer,lr,batch_size"
    assert not keys(at) & {"pg_optimizer", "pg_lr", "pg_batch"}


def test_a_bad_hide_option_names_hide_and_every_control_is_drawn(app):
    at = app(query={"hide": "lr,colour", "epochs": "40"})
    assert any(w.startswith("The link's hide option was not used: hide: colour") for w in texts(at, "warning"))
    assert {"pg_lr", "pg_optimizer"} <= keys(at)
    assert at.number_input(key="pg_epochs").value == 40                # the rest of the link still holds


def test_an_upload_is_named_by_its_hash_and_its_link_restores_it_in_a_new_session(app):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    text = "a,b,label\n" + "\n".join(f"{p:.4f},{q:.4f},{int(p * q > 0)}" for p, q in X)
    at = app()
    at.selectbox(key="pg_dataset").set_value("csv").run()
    at.get("file_uploader")[0].upload("quadrants.csv", text.encode(), "text/csv")
    at.run()
    query = dict(at.query_params.items())
    assert "csv_path" not in query and len(query["csv_sha256"]) == 64 and query["dataset"] == "csv"
    again = app(query=query)
    assert not again.warning and again.selectbox(key="pg_dataset").value == "csv"
    assert again.selectbox(key="pg_target").value == "label"
    assert again.session_state["pg_csv_path"].endswith(f"{query['csv_sha256']}.csv")
    elsewhere = app(query={**query, "csv_sha256": "ab" * 32})       # a hash this server never saw
    assert any("upload the file again" in t for t in texts(elsewhere, "error") + texts(elsewhere, "warning"))
    assert elsewhere.button(key="btn_pg_train").disabled
    RunConfig.from_query({**query, "csv_path": again.session_state["pg_csv_path"]})   # a valid config
