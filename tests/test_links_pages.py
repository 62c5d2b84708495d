"""Links in new sessions (AppTest): the Playground's teacher options (present, hide), an upload named by its hash;
Compare, Sweep and Activations restore their state from their links; a malformed value names its field."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from nonlin_core.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]


def open_link(page: str, query: dict) -> AppTest:
    """A new session whose first page load is pages/<page>.py with these params (a link opened in a new tab).
    Use with the `app` fixture, which stops the training threads after the test."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()                                          # the session starts (app.py) on the Playground
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page(f"pages/{page}.py").run()          # the page's first run in this session reads the link
    assert not at.exception, at.exception
    return at


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


def test_a_compare_link_restores_its_page_in_a_new_session_and_a_bad_value_is_named(app):
    at = app("compare")
    at.sidebar.selectbox(key="cmp_dataset").set_value("moons")
    at.sidebar.segmented_control(key="cmp_vary").set_value("learning rate").run()
    at.sidebar.pills(key="cmp_lrs").set_value([0.03, 0.3])
    at.sidebar.selectbox(key="cmp_activation").set_value("tanh")
    at.sidebar.slider(key="cmp_depth").set_value(1)
    at.sidebar.number_input(key="cmp_epochs").set_value(120)
    at.sidebar.number_input(key="cmp_seeds").set_value(3).run()
    query = dict(at.query_params.items())
    assert query["vary"] == "lr" and query["values"] == "0.03,0.3" and query["seeds"] == "3"
    again = open_link("compare", query)
    assert not again.warning
    state = {k: again.session_state[k] for k in ("cmp_dataset", "cmp_vary", "cmp_lrs", "cmp_activation", "cmp_depth",
                                                 "cmp_epochs", "cmp_seeds")}
    assert state == {"cmp_dataset": "moons", "cmp_vary": "learning rate", "cmp_lrs": [0.03, 0.3],
                     "cmp_activation": "tanh", "cmp_depth": 1, "cmp_epochs": 120, "cmp_seeds": 3}
    assert dict(again.query_params.items()) == query
    bad = open_link("compare", {**query, "values": "0.03,fast"})
    assert bad.warning[0].value.startswith("The link's settings were not used (defaults instead): values")
    assert bad.session_state["cmp_vary"] == "activation" and bad.session_state["cmp_dataset"] == "circles"


def test_a_sweep_link_restores_its_page_in_a_new_session_and_a_bad_value_is_named(app):
    at = app("sweep")
    at.sidebar.selectbox(key="sw_dataset").set_value("xor")
    at.sidebar.pills(key="sw_acts").set_value(["relu", "gelu"])
    at.sidebar.pills(key="sw_depths").set_value([1, 2])
    at.sidebar.pills(key="sw_widths").set_value([4, 32])
    at.sidebar.number_input(key="sw_seeds").set_value(2)
    at.sidebar.number_input(key="sw_epochs").set_value(150).run()
    query = dict(at.query_params.items())
    assert query["activations"] == "relu,gelu" and query["widths"] == "4,32" and query["dataset"] == "xor"
    again = open_link("sweep", query)
    assert not again.warning
    assert [again.session_state[k] for k in ("sw_dataset", "sw_acts", "sw_depths", "sw_widths", "sw_seeds",
                                             "sw_epochs")] == ["xor", ["relu", "gelu"], [1, 2], [4, 32], 2, 150]
    assert dict(again.query_params.items()) == query
    bad = open_link("sweep", {**query, "depths": "1,lots"})
    assert bad.warning[0].value.startswith("The link's settings were not used (defaults instead): depths")
    assert bad.session_state["sw_acts"] == ["none", "relu", "tanh"]


def test_an_activations_link_opens_its_run_and_an_unknown_run_is_named(app):
    at = app()
    at.number_input(key="pg_epochs").set_value(30).run()
    at.button(key="btn_pg_train").click().run()
    handle = next(iter(at.session_state["handles"].values()))
    assert handle.wait(120)
    run = handle.configs[0].key
    query = {"run": run, "samples": "24"}
    again = open_link("activations", query)
    assert not again.warning and again.selectbox(key="act_run").value == run
    assert again.slider(key="act_samples").value == 24 and dict(again.query_params.items()) == query
    bad = open_link("activations", {"run": "feedfacefeedface", "samples": "24"})
    assert bad.warning[0].value.startswith("The link's settings were not used (defaults instead): run")
