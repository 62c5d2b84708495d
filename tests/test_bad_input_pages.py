"""Bad input on the Playground page (AppTest): each bad CSV upload shows its own message naming the column or
cap, nothing raises, and a good file trains afterwards in the same session; crafted URL params over the caps
are refused with a warning naming the field, and the page falls back to its defaults."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from nonlin_core.config import RunConfig
from nonlin_core.datasets import load
from nonlin_core.errors import TargetMissing
from nonlin_core.uploads import save_upload
from nonlin_ui.controls import preset

ROOT = Path(__file__).resolve().parents[1]
ENDED = ("Done", "Diverged", "Stopped", "Failed")
GOOD = ("f1,f2,label\n" + "\n".join(f"{i * 0.1:.1f},{(i % 7) * 0.3:.1f},{i % 2}" for i in range(40)) + "\n").encode()


def rows(n: int, header: str = "a,b,y") -> str:
    return header + "\n" + "\n".join(f"{i},{i * 2 % 5},{i % 2}" for i in range(n)) + "\n"


@pytest.fixture
def app(app):
    """make(query=None) -> the shared AppTest (conftest) opened with these URL params, on the Playground."""
    def make(query: dict | None = None) -> AppTest:
        at = app(query=query)
        assert at.title[0].value == "Playground"                     # the default page
        return at

    return make


def texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.button]


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.get("file_uploader")[0].upload(name, data, "text/csv")
    at.run()
    assert not at.exception, at.exception
    return at


def train_to_end(at: AppTest, timeout: float = 90) -> str:
    """Click Train, then rerun until the status line reports an end (waiting on the live job between reruns)."""
    at.button(key="btn_pg_train").click().run()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert not at.exception, at.exception
        ended = [t for kind in ("success", "error", "warning") for t in texts(at, kind) if t.startswith(ENDED)]
        if ended:
            return ended[0]
        live = [h for h in at.session_state["handles"].values() if not h.finished]
        if live:
            live[0].wait(0.25)
        at.run()
    raise AssertionError(f"no end within {timeout} s")


def current_config(at: AppTest) -> RunConfig:
    """The link's config; an upload is named by its hash in links, so its path comes from the session."""
    params = dict(at.query_params.items())
    assert "csv_path" not in params, "a link carries a server path"
    if params.get("dataset") == "csv":
        params["csv_path"] = at.session_state["pg_csv_path"]
    return RunConfig.from_query(params)


# name, bytes, env caps, what the message must say
BAD_UPLOADS = {
    "empty": ("empty.csv", b"", {}, "empty.csv: the file is empty"),
    "blank lines": ("blank.csv", b"\n \r\n\t\n", {}, "blank.csv: the file is empty"),
    "binary": ("sheet.csv", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", {}, "sheet.csv: this is a binary file"),
    "latin-1": ("latin1.csv", "größe,b,y\n1,2,0\n3,4,1\n".encode("latin-1"), {},
                "latin1.csv: not UTF-8 text (byte 0xf6 at position 2)"),
    "non-numeric": ("text.csv", b"a,b,y\n1,x,0\n2,z,1\n3,q,0\n4,w,1\n", {}, "feature column 'b' is not numeric (e.g. 'x')"),
    "NaN-filled": ("holes.csv", b"a,b,y\n1,,0\n2,,1\n3,,0\n4,,1\n", {}, "missing values in b (4 rows)"),
    "NaN text": ("nan.csv", b"a,b,y\n1,NaN,0\n2,nan,1\n3,NaN,0\n4,NaN,1\n", {}, "missing values in b (4 rows)"),
    "single class": ("one.csv", b"a,b,y\n1,2,0\n2,3,0\n3,4,0\n4,5,0\n", {}, "target 'y' has one class only ('0')"),
    "continuous target": ("reg.csv", ("a,b,y\n" + "".join(f"{i},{i % 3},{i * 1.37:.2f}\n" for i in range(40))).encode(),
                          {}, "target 'y' has 40 classes, over the cap of 10"),
    "one row in a class": ("rare.csv", b"a,b,y\n1,2,0\n2,3,0\n3,4,1\n4,5,0\n", {}, "class '1' of 'y' has only 1 row"),
    "over the MB cap": ("big.csv", rows(150_000).encode(), {"NONLIN_MAX_CSV_MB": "1"}, "MB is over the 1 MB cap"),
    "over the row cap": ("long.csv", rows(60).encode(), {"NONLIN_MAX_CSV_ROWS": "50"}, "more than 50 rows (the row cap)"),
    "over the column cap": ("wide.csv", (",".join(f"c{i}" for i in range(12)) + ",y\n" + "1," * 12 + "0\n").encode(),
                            {"NONLIN_MAX_CSV_COLS": "10"}, "13 columns is over the 10-column cap"),
    "duplicate headers": ("dupes.csv", b"a,a,y\n1,2,0\n2,3,1\n3,4,0\n4,5,1\n", {}, "duplicate column name(s): 'a'"),
    "ragged rows": ("ragged.csv", b"a,b,y\n1,2,0\n2,3,1,7\n3,4,0\n", {},
                    "not a readable CSV (Error tokenizing data. C error: Expected 3 fields in line 3, saw 4)"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_upload_is_a_specific_message_then_a_good_file_trains(app, monkeypatch, case):
    name, data, env, message = BAD_UPLOADS[case]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = app()
    at.switch_page("pages/playground.py").run()
    at.selectbox(key="pg_dataset").set_value("csv").run()
    assert "Upload a CSV to train on it." in texts(at, "info")
    upload(at, name, data)
    errors = texts(at, "error")
    assert any(message in e for e in errors), errors
    assert at.button(key="btn_pg_train").disabled                  # nothing to train on
    assert not any("Traceback" in e for e in errors)

    upload(at, "good.csv", GOOD)                                  # the same session recovers
    assert not texts(at, "error"), texts(at, "error")
    assert at.selectbox(key="pg_target").value == "label"
    config = current_config(at)
    assert config.dataset == "csv" and config.target == "label" and config.csv_sha256
    assert train_to_end(at).startswith("Done"), texts(at, "error")


def test_upload_errors_name_the_uploaded_file_not_its_content_hash(app):
    at = app()
    at.selectbox(key="pg_dataset").set_value("csv").run()
    upload(at, "text.csv", b"a,b,y\n1,x,0\n2,z,1\n3,q,0\n4,w,1\n")
    error = next(e for e in texts(at, "error") if "not numeric" in e)
    assert error.startswith("text.csv:"), f"the message names the stored copy, not the upload: {error[:90]!r}"


def test_a_links_missing_target_column_is_named(app, tmp_path):
    path, digest = save_upload(GOOD, tmp_path / "uploads")
    config = preset("csv").replace(dataset="csv", csv_path=str(path), csv_sha256=digest, target="outcome")
    with pytest.raises(TargetMissing, match="no column named 'outcome'; columns are: f1, f2, label"):
        load(config)                                              # what training such a config would say
    at = app(config.to_query())
    assert not at.exception
    shown = texts(at, "error") + texts(at, "warning")
    assert any("outcome" in t for t in shown), "the link's target 'outcome' was silently replaced"


def test_a_link_cannot_read_files_outside_the_upload_folder(app):
    at = app({"dataset": "csv", "csv_path": "/etc/passwd", "target": "x"})
    assert not at.exception
    shown = [str(o) for s in at.selectbox for o in s.options] + texts(at, "error") + texts(at, "warning")
    assert not any("root" in t for t in shown), "?dataset=csv&csv_path=/etc/passwd showed the file's first line"
    assert any("not a file uploaded to this server" in t for t in shown)


# the URL's params over the server caps or malformed: (params, words the warning must contain)
BAD_LINKS = {
    "epochs over the cap": ({"epochs": "999999"}, ("epochs", "999999", "server cap 5000")),
    "width over the cap": ({"hidden_layers": "512"}, ("hidden_layers", "width 512", "1..256")),
    "depth over the cap": ({"hidden_layers": ",".join(["4"] * 40)}, ("hidden_layers", "depth 40", "server cap 8")),
    "samples over the cap": ({"n_samples": str(10**9)}, ("n_samples", "1000000000", "server cap 20000")),
    "batch over the cap": ({"batch_size": "100000"}, ("batch_size", "server cap 4096")),
    "classes over the cap": ({"dataset": "spiral", "n_classes": "500"}, ("n_classes", "server cap 10")),
    "unknown activation": ({"activation": "bogus"}, ("activation", "'bogus' is not one of", "relu")),
    "lr not a number": ({"lr": "abc"}, ("lr", "'abc' is not a valid number")),
    "lr nan": ({"lr": "nan"}, ("lr", "finite")),
    "lr over the maximum": ({"lr": "1e9"}, ("lr", "above the maximum 10")),
    "negative epochs": ({"epochs": "-5"}, ("epochs", "below the minimum 1")),
    "epochs not whole": ({"epochs": "1e3"}, ("epochs", "not a valid whole number")),
    "dataset path": ({"dataset": "../../etc/passwd"}, ("dataset", "is not one of")),
    "csv without a file": ({"dataset": "csv"}, ("csv", "needs csv_path and target")),
    "same plot feature twice": ({"plot_features": "0,0"}, ("plot_features", "two different")),
    "bool not a bool": ({"standardize": "maybe"}, ("standardize", "true/false")),
}


@pytest.mark.parametrize("case", list(BAD_LINKS))
def test_bad_link_params_are_refused_with_a_message_naming_the_field(app, case):
    params, words = BAD_LINKS[case]
    at = app({**params, "seed": "5"})
    warnings = texts(at, "warning")
    assert len(warnings) == 1 and warnings[0].startswith("The link's settings were not used (defaults instead): "), warnings
    assert all(w in warnings[0] for w in words), warnings[0]
    assert not texts(at, "error")
    assert current_config(at) == preset("circles")               # every param of the link dropped, seed too
    assert "btn_pg_train" in buttons(at)
    at.switch_page("pages/playground.py").run()                   # later runs keep the defaults, quietly
    assert not at.exception and not texts(at, "warning") and current_config(at) == preset("circles")


def test_after_a_refused_link_the_defaults_train_and_the_caps_hold_in_the_sidebar(app, monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_EPOCHS", "1200")
    at = app({"epochs": "1201"})
    assert "epochs: 1201 is above the server cap 1200" in texts(at, "warning")[0]
    assert at.number_input(key="pg_epochs").max == 1200
    at.number_input(key="pg_epochs").set_value(100).run()
    assert current_config(at).epochs == 100
    assert train_to_end(at).startswith("Done — 100 epochs")
    assert not at.exception


@pytest.mark.parametrize("env", [{"NONLIN_MAX_EPOCHS": "500"}, {"NONLIN_MAX_WIDTH": "8"}, {"NONLIN_MAX_SAMPLES": "800"}])
def test_a_cap_below_a_config_default_still_serves_the_page(store_path, monkeypatch, env):
    """RunConfig's own defaults (1000 epochs, width 10, 1000 samples) are above these caps."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    try:
        at.run()
        assert not at.exception, f"{env} breaks the Playground: {at.exception[0].message}"
        assert at.title[0].value == "Playground" and "btn_pg_train" in buttons(at)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()


def test_a_link_to_an_upload_gone_from_the_server_is_a_message_without_paths_and_train_is_off(app, store_path,
                                                                                              caplog):
    stored, digest = save_upload(GOOD, store_path.parent / "uploads")        # where this server keeps uploads
    link = preset("csv").replace(dataset="csv", csv_path=str(stored), csv_sha256=digest, target="label")
    stored.unlink()                                                          # removed from the upload folder since
    with caplog.at_level("WARNING", logger="nonlin"):
        at = app(link.to_query())
    shown = texts(at, "error") + texts(at, "warning")
    assert any("upload the file again" in t for t in shown), shown
    assert not any(str(stored.parent) in t or stored.name in t for t in shown), "a server path reached the page"
    assert str(stored) in caplog.text                                        # the detail is in the server log
    assert {"pg_depth", "pg_width"} <= {s.key for s in at.sidebar.slider}    # the controls stay
    assert at.sidebar.pills(key="pg_activation").value == link.activation
    assert at.button(key="btn_pg_train").disabled


def test_a_dataset_that_cannot_be_had_is_named_without_the_servers_paths(caplog):
    from nonlin_core.errors import DatasetMissing
    from nonlin_ui.controls import data_message
    exc = DatasetMissing("heart_failure: the data file is not installed; reinstall nonlin or put "
                         "heart_failure_clinical_records_dataset.csv in /srv/data")
    with caplog.at_level("WARNING", logger="nonlin"):
        text = data_message(exc, "heart_failure")
    assert "heart failure data is not available" in text and "/srv" not in text and ".csv" not in text
    assert "/srv/data" in caplog.text
