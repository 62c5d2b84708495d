"""Playground controls for the inside of the network (AppTest, by widget key): input features or columns, widths
per layer, L1 / L2 / weight decay, all round-tripping through the URL; the gradient-flow panel after a run."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from nonlin_core.config import RunConfig
from tests.test_pages import charts, wait_for_end


def current_config(at: AppTest) -> RunConfig:
    return RunConfig.from_query(dict(at.query_params.items()))


def test_feature_toggles_reach_the_config_and_the_url_and_come_back_from_it(app):
    at = app()
    assert at.pills(key="pg_features").value == ["x1", "x2"] and current_config(at).features == ""
    at.pills(key="pg_features").set_value(["x1^2", "x2^2"]).run()
    config = current_config(at)
    assert config.features == "x1^2,x2^2" and at.query_params["features"] == "x1^2,x2^2"
    back = app(query=dict(at.query_params.items()))
    assert back.pills(key="pg_features").value == ["x1^2", "x2^2"] and current_config(back) == config
    at.pills(key="pg_features").set_value([]).run()
    assert any("at least one input feature" in w.value for w in at.sidebar.warning)


def test_widths_per_layer_round_trip_and_bad_widths_are_a_message(app):
    at = app()
    at.text_input(key="pg_widths").input("8,4,2").run()
    assert current_config(at).hidden_layers == (8, 4, 2)
    assert at.slider(key="pg_depth").value == 3
    back = app(query={"hidden_layers": "8,4,2"})
    assert back.text_input(key="pg_widths").value == "8,4,2" and current_config(back).hidden_layers == (8, 4, 2)
    back.slider(key="pg_width").set_value(5).run()                      # a slider: one width for every layer
    assert current_config(back).hidden_layers == (5, 5, 5) and back.text_input(key="pg_widths").value == "5,5,5"
    back.text_input(key="pg_widths").input("8,x").run()
    assert any("not a list of whole numbers like 8,4,2" in e.value for e in back.sidebar.error)
    assert back.button(key="btn_pg_train").disabled


def test_l1_l2_and_weight_decay_controls_round_trip(app):
    at = app(query={"l1": "0.001", "l2": "0.01", "weight_decay": "0.0003"})
    assert (at.select_slider(key="pg_l1").value, at.select_slider(key="pg_l2").value,
            at.select_slider(key="pg_wd").value) == (0.001, 0.01, 0.0003)
    at.select_slider(key="pg_l2").set_value(0.1).run()
    config = current_config(at)
    assert (config.l1, config.l2, config.weight_decay) == (0.001, 0.1, 0.0003)


def test_heart_failure_offers_its_columns(app, heart_dir, monkeypatch):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(heart_dir))
    at = app()
    at.selectbox(key="pg_dataset").set_value("heart_failure").run()
    assert len(at.multiselect(key="pg_columns").value) == 12 and current_config(at).features == ""
    at.multiselect(key="pg_columns").set_value(["age", "ejection_fraction", "serum_creatinine"]).run()
    assert current_config(at).features == "age,ejection_fraction,serum_creatinine"
    assert not at.exception and not at.error


def test_a_finished_run_draws_its_gradient_flow(app):
    at = app(query={"epochs": "60", "hidden_layers": "6,4", "activation": "tanh", "features": "x1^2,x2^2"})
    assert "grad_flow" not in charts(at)                                     # no bare empty chart before a run
    assert any("drawn here from the first epoch" in c.value for c in at.caption)
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    flow = charts(at)["grad_flow"]
    names = [t["name"] for t in flow["data"]]
    assert names[:3] == ["→ h1", "→ h2", "→ out"] and {"saturated", "dead"} <= set(names)
    assert any("vanishing gradients" in c.value for c in at.caption)


def test_a_finished_runs_diagram_carries_a_frame_per_recorded_epoch(app):
    at = app(query={"epochs": "50", "hidden_layers": "6,4", "activation": "tanh"})
    before = charts(at)["network"]
    assert not before.get("frames") and "untrained" in before["layout"]["title"]["text"]
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    network = charts(at)["network"]
    epochs = network["layout"]["meta"]["epochs"]
    assert network["layout"]["meta"]["timelapse"] and epochs == list(range(51))     # a short run: every epoch
    assert [f["name"] for f in network["frames"]] == [str(e) for e in epochs]
    assert "Network at epoch 50" in network["layout"]["title"]["text"]
    assert any("scrub or play" in c.value for c in at.caption)
