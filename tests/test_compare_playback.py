"""Compare plays every model's time-lapse in step: one figure, one slider and one Play button for all panels."""
from __future__ import annotations

import numpy as np

from nonlin_core import field_image, playback
from tests.support.field import lines, png_rgb
from tests.test_pages import charts, wait_for_end


def test_compare_boundaries_carry_frames_played_in_step_after_a_run(app):
    at = app("compare")
    at.pills(key="cmp_acts").set_value(["none", "relu"]).run()
    at.number_input(key="cmp_seeds").set_value(2).run()
    assert "cmp_timelapse" not in charts(at)                     # nothing recorded yet: the data, per model
    at.button(key="btn_cmp_train").click().run()
    assert wait_for_end(at).startswith("Done")
    fig = charts(at)["cmp_timelapse"]
    handle = next(iter(at.session_state["handles"].values()))
    timelapse = handle.snapshot.timelapse
    epochs = timelapse.epochs
    assert [f["name"] for f in fig["frames"]] == [str(e) for e in epochs] and epochs[0] == 0
    assert epochs[-1] == handle.configs[0].epochs
    # one slider and one Play button drive both panels: every frame holds both models' fields and lines
    assert len(fig["layout"]["sliders"]) == 1 and len(fig["layout"]["sliders"][0]["steps"]) == len(epochs)
    buttons = [b["label"] for menu in fig["layout"]["updatemenus"] for b in menu["buttons"]]
    assert sum("Play" in b for b in buttons) == 1
    assert [im["xref"] for im in fig["layout"]["images"]] == ["x", "x2"]
    assert [t["xaxis"] for t in lines(fig["data"])] == ["x", "x2"]
    line_index = [i for i, t in enumerate(fig["data"]) if t.get("name") == "boundary line"]
    for frame in fig["frames"]:
        assert frame["traces"] == line_index and len(frame["layout"]["images"]) == 2
    # each panel plays its model's first seed (members 0 and 2 of the batch), frame by frame
    for i in (0, len(epochs) // 2, len(epochs) - 1):
        probs = timelapse.probabilities(i)
        for panel, member in enumerate((0, 2)):
            heat, _ = playback.quantised_fields(probs[member])
            shown = png_rgb(fig["frames"][i]["layout"]["images"][panel]["source"])
            assert np.array_equal(shown, field_image.field_rgb(heat, 2)[::-1])
    first, last = (fig["frames"][i]["layout"]["images"][1]["source"] for i in (0, -1))
    assert first != last                                         # relu's boundary forms over the frames
    assert fig["layout"]["sliders"][0]["active"] == len(epochs) - 1   # shown: the final boundary
    assert [s["label"] for s in fig["layout"]["sliders"][0]["steps"]] == [f"epoch {e}" for e in epochs]
