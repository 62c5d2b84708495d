"""Compare plays every model's time-lapse in step: one figure, one slider and one Play button for all panels."""
from __future__ import annotations

import base64

import numpy as np

from tests.test_pages import charts, wait_for_end


def decode(z) -> np.ndarray:
    """A z as plotly.io encodes it (a base64 typed array) or a plain list -> numpy."""
    if isinstance(z, dict):
        dtype = {"u1": np.uint8, "i1": np.int8, "u2": np.uint16}[z["dtype"]]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=dtype).reshape([int(n) for n in z["shape"].split(",")])
    return np.asarray(z)


def heatmaps(traces: list[dict]) -> list[dict]:
    return [t for t in traces if t["type"] == "heatmap"]


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
    # one slider and one Play button drive both panels: every frame holds both models' heatmaps
    assert len(fig["layout"]["sliders"]) == 1 and len(fig["layout"]["sliders"][0]["steps"]) == len(epochs)
    buttons = [b["label"] for menu in fig["layout"]["updatemenus"] for b in menu["buttons"]]
    assert sum("Play" in b for b in buttons) == 1
    assert [t["xaxis"] for t in heatmaps(fig["data"])] == ["x", "x2"]
    panel_traces = [i for i, t in enumerate(fig["data"]) if t["type"] == "heatmap"]
    for frame in fig["frames"]:
        assert len(heatmaps(frame["data"])) == 2 and set(panel_traces) <= set(frame["traces"])
    # each panel plays its model's first seed (members 0 and 2 of the batch), frame by frame
    for i in (0, len(epochs) // 2, len(epochs) - 1):
        heat = heatmaps(fig["frames"][i]["data"])
        probs = timelapse.probabilities(i)
        for panel, member in enumerate((0, 2)):
            expected = np.round(probs[member, 1] * 100).astype(np.uint8)
            assert np.array_equal(decode(heat[panel]["z"]), expected)
    first, last = (decode(heatmaps(fig["frames"][i]["data"])[1]["z"]) for i in (0, -1))
    assert not np.array_equal(first, last)                       # relu's boundary forms over the frames
    assert fig["layout"]["sliders"][0]["active"] == len(epochs) - 1   # shown: the final boundary
    assert [s["label"] for s in fig["layout"]["sliders"][0]["steps"]] == [f"epoch {e}" for e in epochs]
