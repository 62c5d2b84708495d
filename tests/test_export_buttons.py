"""The Playground and Compare offer the exports of a finished run (script, metrics CSV, .pt2 model, figures
HTML), made on click; none before the run has finished."""
from __future__ import annotations

from tests.test_pages import status, wait_for_end

KINDS = ("script", "csv", "model_file", "html")


def buttons(at, slot: str) -> list[str]:
    keys = [b.proto.id for b in at.get("download_button")]
    return [kind for kind in KINDS if any(k.endswith(f"exp_{kind}_{slot}") for k in keys)]


def test_playground_offers_the_exports_of_a_finished_run(app):
    at = app(query={"epochs": "30", "batch_size": "0"})
    assert "Not trained yet" in status(at) and buttons(at, "pg") == []
    at.button(key="btn_pg_train").click().run()
    assert wait_for_end(at).startswith("Done")
    assert buttons(at, "pg") == list(KINDS)


def test_compare_offers_the_exports_of_each_models_first_seed(app):
    at = app("compare")
    at.number_input(key="cmp_seeds").set_value(1).run()
    at.button(key="btn_cmp_train").click().run()
    assert wait_for_end(at).startswith("Done")
    assert buttons(at, "cmp") == list(KINDS)
    choice = at.selectbox(key="exp_model_cmp")
    assert len(choice.options) == 3 and choice.options[0].startswith("none")
