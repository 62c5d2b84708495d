"""AppTest smoke and behaviour tests for every page, widgets addressed by key. Fragment timers never fire
in AppTest, so a run is followed by calling at.run() until the page reports the end."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nonlin_core.config import RunConfig
from nonlin_core.stats import paired_difference

ROOT = Path(__file__).resolve().parents[1]
ENDED = ("Done", "Diverged", "Stopped", "Failed")



def status(at: AppTest) -> str:
    """Texts of the run status line (alerts and progress) on the page."""
    parts = [e.value for kind in (at.success, at.error, at.warning, at.info) for e in kind]
    parts += [p.proto.text for p in at.get("progress")]
    return " | ".join(parts)


def wait_for_end(at: AppTest, timeout: float = 180) -> str:
    """Rerun until the status reports an end; between reruns, wait on the live job (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        text = status(at)
        if any(text.startswith(word) or f"| {word}" in text for word in ENDED):
            return text
        live = [h for h in at.session_state["handles"].values() if not h.finished]
        if live:
            live[0].wait(0.25)
    raise AssertionError(f"no end within {timeout} s; status: {status(at)}")


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly charts by widget key -> the figure the browser shows: the spec, and a live boundary with the page's
    patch applied as its script does (nonlin_ui.live_patch: lines, field image, epoch, title and dimming)."""
    specs = {c.proto.id.split("-", 2)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    patches = {p["token"]: p for p in live_patches(at)}                     # the newest per chart
    for key, spec in specs.items():
        patch = patches.get(spec["layout"].get("meta", {}).get("live"))
        if patch is None:
            continue
        if "figure" in patch:                                                # a whole figure, diffed in
            specs[key] = patch["figure"]
            continue
        line = next(t for t in spec["data"] if t.get("name") == "boundary line")
        image = next(im for im in spec["layout"]["images"] if im.get("name") == "boundary")
        line["x"], line["y"] = patch["x"], patch["y"]
        image["source"] = patch.get("source", image["source"])           # the data alone: the image as it was
        image["opacity"] = patch["opacity"]
        spec["layout"]["meta"].update(epoch=patch["epoch"], dim=patch["dim"])
        spec["layout"]["title"]["text"] = patch["title"]
    return specs


def live_patches(at: AppTest) -> list[dict]:
    """The live charts' patches on the page (nonlin_ui.live_patch), in page order."""
    from nonlin_ui.live_patch import PATCH_MARK
    bodies = [e.proto.body for e in at.get("html") if f'class="{PATCH_MARK}"' in e.proto.body]
    return [json.loads(b.split("] = ", 1)[1].rsplit(";</script>", 1)[0].replace("<\\/", "</")) for b in bodies]


def current_config(at: AppTest) -> RunConfig:
    """The link's config; an upload is named by its hash in links, so its path comes from the session."""
    params = dict(at.query_params.items())
    assert "csv_path" not in params, "a link carries a server path"
    if params.get("dataset") == "csv":
        params["csv_path"] = at.session_state["pg_csv_path"]
    return RunConfig.from_query(params)


@pytest.mark.parametrize("page", [None, "compare", "activations"])
def test_every_page_loads(app, page):
    at = app(page)
    assert at.title[0].value in ("Playground", "Compare", "Activations")
    assert not at.error


def test_playground_trains_default_to_done(app):
    at = app()
    assert "Not trained yet" in status(at)
    assert "boundary" in charts(at)
    at.button(key="btn_pg_train").click().run()
    text = wait_for_end(at)
    assert text.startswith("Done"), text
    config = current_config(at)
    spec = charts(at)
    boundary = spec["boundary"]
    assert boundary["layout"]["images"][0]["source"].startswith("data:image/png;base64,")    # the field
    assert boundary["layout"]["meta"]["epoch"] == config.epochs
    assert {"curves", "confusion"} <= set(spec)
    labels = [m.label for m in at.metric]
    assert "Test accuracy" in labels and "F1 (test, macro)" in labels
    accuracy = float(at.metric[0].value.rstrip("%")) / 100
    assert accuracy > 0.9
    assert config.dataset == "circles" and config.batch_size == 32      # the page's preset, in the URL


def test_changing_activation_trains_it_at_once_and_switching_back_is_instant(app):
    at = app(query={"epochs": "300"})
    first = current_config(at)
    assert "Not trained yet" in status(at)                 # a first load trains nothing
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    at.pills(key="pg_activation").set_value("tanh").run()  # train on change: no click
    # started by the pill's callback, drawn by the live fragment, then the whole page (nonlin_ui.runs.activation_click)
    tanh = next(h for h in at.session_state["handles"].values() if h.configs[0].activation == "tanh")
    assert charts(at)["curves"]["layout"]["uirevision"] == f"curves-{tanh.configs[0].key}"
    second = current_config(at)
    assert second.activation == "tanh" and second.key == tanh.configs[0].key != first.key
    assert status(at).startswith(("Running", "Done", "Queued"))
    assert wait_for_end(at).startswith("Done")
    at.pills(key="pg_activation").set_value("relu").run()
    assert current_config(at).key == first.key
    assert status(at).startswith("Done")                  # shown at once, no training
    at.toggle(key="pg_train_on_change").set_value(False).run()
    at.pills(key="pg_activation").set_value("gelu").run()
    assert "Not trained yet" in status(at)


def next_runs(at: AppTest) -> dict[str, dict[str, str]]:
    """The page's map of the run each button selects (nonlin_ui.bridge.next_runs)."""
    from nonlin_ui.bridge import NEXT_MARK
    body = next(e.proto.body for e in at.get("html") if f'class="{NEXT_MARK}"' in e.proto.body)
    return json.loads(body.split(" = ", 1)[1].rsplit(";</script>", 1)[0])


def test_each_activation_pill_names_the_run_the_sidebar_builds_for_it(app):
    """The page shows a run it has drawn before at once when its pill is clicked (nonlin_ui.bridge), by the key
    this map gives: it must be the key of the config the sidebar then builds, whatever else is set."""
    at = app(query={"epochs": "50", "seed": "4", "dataset": "moons", "lr": "0.3", "optimizer": "adam"})
    at.toggle(key="pg_train_on_change").set_value(False).run()
    for name in ("tanh", "none", "gelu", "relu"):
        named = next_runs(at)["pg_activation"][name]
        at.pills(key="pg_activation").set_value(name).run()
        assert current_config(at).activation == name and current_config(at).key == named


def test_the_previous_boundary_stays_dimmed_until_the_new_run_draws(app, monkeypatch):
    """One worker: while another session's long run holds it, the new run waits in the queue and the page
    keeps the previous run's boundary on screen, dimmed; the new run's own frames replace it."""
    monkeypatch.setenv("NONLIN_WORKERS", "1")
    at = app(query={"epochs": "100"})
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    relu = charts(at)["boundary"]
    other = app(query={"epochs": "5000", "seed": "9"})
    other.button(key="btn_pg_train").click().run()
    at.pills(key="pg_activation").set_value("tanh").run()
    assert status(at).startswith("Queued")
    dimmed = charts(at)["boundary"]
    assert dimmed["layout"]["meta"].get("dim") and dimmed["layout"]["images"][0]["opacity"] == 0.35
    assert dimmed["layout"]["images"][0]["source"].startswith("data:image/png") and relu["frames"]
    other.button(key="btn_pg_stop").click().run()
    assert wait_for_end(at).startswith("Done")
    shown = charts(at)["boundary"]
    assert not shown["layout"]["meta"].get("dim") and shown["layout"]["images"][0]["opacity"] == 1


def test_finished_run_comes_from_the_store_in_a_new_session(app):
    at = app()
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    again = app(query=dict(at.query_params))
    assert status(again).startswith("Done — 600 epochs from the run store")
    assert any("from cache" in m.value for m in again.markdown)


def test_url_params_load_and_bad_params_name_the_field(app):
    at = app(query={"dataset": "moons", "epochs": "50", "activation": "tanh"})
    assert at.selectbox(key="pg_dataset").value == "moons"
    assert at.number_input(key="pg_epochs").value == 50 and at.pills(key="pg_activation").value == "tanh"
    bad = app(query={"epochs": "lots"})
    assert "epochs" in bad.warning[0].value and bad.selectbox(key="pg_dataset").value == "circles"


def test_dataset_change_applies_its_preset(app):
    at = app()
    at.selectbox(key="pg_dataset").set_value("spiral").run()
    config = current_config(at)
    assert (config.dataset, config.n_classes, config.loss, config.optimizer) == ("spiral", 3, "ce", "adam")


def test_stop_and_divergence_are_messages(app):
    at = app()
    at.button(key="btn_pg_train").click().run()
    at.button(key="btn_pg_stop").click().run()
    assert wait_for_end(at).startswith("Stopped")
    diverging = app(query={"lr": "10.0", "activation": "none", "momentum": "0.99", "epochs": "200"})
    diverging.button(key="btn_pg_train").click().run()
    text = wait_for_end(diverging)
    assert text.startswith("Diverged") and "lower the learning rate" in text
    assert not diverging.exception


def test_a_run_waiting_for_a_worker_shows_queued_then_trains(app, monkeypatch):
    """One training thread, two sessions: the second Train answers 'Queued' at once, and trains once the
    first session's run is stopped."""
    monkeypatch.setenv("NONLIN_WORKERS", "1")
    first = app(query={"epochs": "5000"})
    first.button(key="btn_pg_train").click().run()
    assert status(first).startswith(("Running", "Queued"))
    second = app(query={"epochs": "50", "seed": "7"})
    second.button(key="btn_pg_train").click().run()
    assert status(second).startswith("Queued — next in line, waiting for a free worker")
    first.button(key="btn_pg_stop").click().run()
    assert wait_for_end(first).startswith("Stopped")
    assert wait_for_end(second).startswith("Done")


def test_heart_failure_draws_a_feature_pair(app, heart_dir, monkeypatch):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(heart_dir))
    at = app()
    at.selectbox(key="pg_dataset").set_value("heart_failure").run()
    assert any("other 10 features are held at their training mean" in c.value for c in at.caption)
    at.selectbox(key="pg_pair_x").set_value(0).run()
    assert current_config(at).plot_features[0] == 0
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    assert charts(at)["boundary"]["layout"]["xaxis"]["title"]["text"] == "age"


def test_csv_upload_trains_and_bad_csv_is_a_message(app):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])]
    text = "f1,f2,f3,level\n" + "\n".join(f"{a:.4f},{b:.4f},{c:.4f},{t}" for (a, b, c), t in zip(X, y))
    at = app()
    at.selectbox(key="pg_dataset").set_value("csv").run()
    at.get("file_uploader")[0].upload("levels.csv", text.encode(), "text/csv")
    at.run()
    assert not at.exception and at.selectbox(key="pg_target").value == "level"
    config = current_config(at)
    assert config.dataset == "csv" and config.loss == "ce" and config.csv_sha256
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    bad = app()
    bad.selectbox(key="pg_dataset").set_value("csv").run()
    bad.get("file_uploader")[0].upload("bad.csv", b"a,b,y\n1,x,0\n2,z,1\n3,q,0\n4,w,1\n", "text/csv")
    bad.run()
    assert not bad.exception and any("'b' is not numeric" in e.value for e in bad.error)


def test_compare_draws_one_boundary_per_model_with_computed_captions(app):
    at = app("compare")
    assert "boundary_2" in charts(at)
    at.number_input(key="cmp_seeds").set_value(1).run()
    at.button(key="btn_cmp_train").click().run()
    assert wait_for_end(at).startswith("Done")
    spec = charts(at)
    assert not any(k.startswith("boundary_") for k in spec)      # done: one time-lapse figure, a panel per model
    assert [im["xref"] for im in spec["cmp_timelapse"]["layout"]["images"]] == ["x", "x2", "x3"]   # a field each
    captions = [m.value for m in at.markdown if m.value.startswith("**")]
    assert "a straight line" in captions[0] and "bends" in captions[1]
    assert len(at.dataframe) == 1 and "cmp_curves" in spec
    handle = next(iter(at.session_state["handles"].values()))
    assert len(handle.configs) == 3                              # one batched job for all models


def test_compare_over_seeds_draws_bands_and_a_paired_interval(app):
    at = app("compare")
    assert at.number_input(key="cmp_seeds").value == 8                          # honest by default
    at.number_input(key="cmp_seeds").set_value(3).run()
    at.pills(key="cmp_acts").set_value(["none", "relu"]).run()
    at.button(key="btn_cmp_train").click().run()
    assert wait_for_end(at).startswith("Done")
    curves = charts(at)["cmp_curves"]
    assert sum(1 for t in curves["data"] if t.get("fill") == "toself") == 8     # 2 metrics x 2 models x train/test
    handle = next(iter(at.session_state["handles"].values()))
    assert len(handle.configs) == 6
    acc = [f["test_acc"] for f in handle.snapshot.final]
    diff = paired_difference(acc[3:], acc[:3])                                    # relu - none, paired by seed
    line = next(m.value for m in at.markdown if "over 3 seeds" in m.value)
    assert f"{100 * abs(diff.mean):.1f} ± {100 * diff.half_width:.1f} points" in line
    table = at.dataframe[0].value
    assert list(table["seeds"]) == [3, 3] and all(v.endswith("pts") for v in table["± std"])


def test_activations_page_renders_for_a_finished_run(app):
    at = app()
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    trained = current_config(at).key
    at.switch_page("pages/activations.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="act_run").value == trained
    spec = charts(at)
    assert {"activation_curves", "dead_units", "layer_1", "layer_2"} <= set(spec)
    assert any("Units that never fire" in m.value for m in at.markdown)
    at.slider(key="act_samples").set_value(16).run()
    assert len(charts(at)["layer_1"]["data"][1]["y"]) == 16


def test_zero_hidden_layers_disables_the_activation_pills_with_a_reason(app):
    at = app()
    assert not at.sidebar.pills(key="pg_activation").disabled
    at.sidebar.slider(key="pg_depth").set_value(0).run()
    assert at.sidebar.pills(key="pg_activation").disabled
    assert any("no hidden layer" in c.value.lower() for c in at.sidebar.caption)
    assert current_config(at).hidden_layers == ()


def test_activations_labels_tell_compare_seeds_apart_and_a_linear_run_has_no_dead_units(app):
    at = app("compare")
    at.pills(key="cmp_acts").set_value(["none", "relu"]).run()
    at.number_input(key="cmp_seeds").set_value(2).run()
    at.number_input(key="cmp_epochs").set_value(20).run()
    at.button(key="btn_cmp_train").click().run()
    assert wait_for_end(at).startswith("Done")
    configs = next(iter(at.session_state["handles"].values())).configs
    at.switch_page("pages/activations.py").run()
    picker = at.selectbox(key="act_run")
    labels = [o for o in picker.options if any(c.key[:6] in o for c in configs)]
    assert len(labels) == 4 and len(set(labels)) == 4                  # two seeds of each model, told apart
    assert {f"seed {c.seed}" for c in configs} <= {part for o in labels for part in o.split(" · ")}
    linear = next(c for c in configs if c.activation == "none")
    picker.set_value(linear.key).run()
    assert not at.exception and "layer_1" in charts(at) and "dead_units" not in charts(at)
    assert not any("Units that never fire" in m.value for m in at.markdown)
    relu = next(c for c in configs if c.activation == "relu")
    at.selectbox(key="act_run").set_value(relu.key).run()
    assert "dead_units" in charts(at)


def _own_run(at: AppTest):
    return next(h for h in at.session_state["handles"].values() if not h.finished)


def test_lab_controls_pause_step_reset_and_resume_the_run(app):
    at = app(query={"epochs": "5000"})
    at.button(key="btn_pg_train").click().run()
    handle = _own_run(at)
    at.button(key="btn_pg_pause").click().run()
    k = handle.snapshot.epoch
    assert handle.status == "paused" and status(at).startswith(f"Paused at epoch {k} / 5000")
    assert at.button(key="btn_pg_resume") and at.button(key="btn_pg_step10").disabled is False
    boundary = charts(at)["boundary"]
    assert boundary["frames"] and boundary["layout"]["meta"]["epoch"] == k          # its boundary where it paused
    at.button(key="btn_pg_step10").click().run()
    assert handle.status == "paused" and handle.snapshot.epoch == k + 10
    at.button(key="btn_pg_step1").click().run()
    assert handle.snapshot.epoch == k + 11 and status(at).startswith(f"Paused at epoch {k + 11} /")
    history = {m: v.copy() for m, v in handle.snapshot.history.items()}
    at.button(key="btn_pg_reset").click().run()
    assert handle.status == "paused" and handle.snapshot.epoch == 0 and status(at).startswith("Paused at epoch 0 /")
    at.button(key="btn_pg_step10").click().run()                       # the same seed: the same first epochs
    np.testing.assert_array_equal(handle.snapshot.history["train_loss"], history["train_loss"][:, :10])
    at.button(key="btn_pg_resume").click().run()
    assert handle.status == "running" and status(at).startswith("Running")
    at.button(key="btn_pg_stop").click().run()
    assert wait_for_end(at).startswith("Stopped")


def test_a_finished_run_is_a_scrubbable_time_lapse(app):
    at = app(query={"epochs": "200"})
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    handle = next(iter(at.session_state["handles"].values()))
    boundary = charts(at)["boundary"]
    epochs = handle.snapshot.timelapse.epochs
    assert [f["name"] for f in boundary["frames"]] == [str(e) for e in epochs] and epochs[0] == 0 and epochs[-1] == 200
    steps = boundary["layout"]["sliders"][0]["steps"]
    assert steps[-1]["label"].startswith("epoch 200 · test acc")         # the shown epoch's metrics
    assert [b["label"] for b in boundary["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "❚❚ Pause"]
    assert at.button(key="btn_pg_pause").disabled                       # nothing left to pause


def test_a_lab_click_whose_callback_runs_twice_steps_once():
    """Streamlit can run one click's callback in two script threads at once: the second call is let through no more
    (one Step +1 trained two epochs); another epoch, or the same click after the window, is a new click."""
    from concurrent.futures import ThreadPoolExecutor

    from nonlin_ui.runs import OncePerClick
    once = OncePerClick(3.0)
    click = ("owner", "run", "step", 1, 930)
    with ThreadPoolExecutor(8) as pool:
        passed = list(pool.map(lambda _: once.first(click, now=100.0), range(8)))
    assert passed.count(True) == 1
    assert not once.first(click, now=102.9)                            # the same click, 2.9 s later
    assert once.first(("owner", "run", "step", 1, 931), now=102.9)     # the next step, at the next epoch
    assert once.first(click, now=103.1)                                # a new press at that epoch
