"""Time-lapse playback in headless chromium, without Streamlit: the finished circles run's figure
(playback.boundary_timelapse: field images swapped by nonlin_ui/field_frames' script, frames without redraw)
against a reference in the same page: the same frames drawn the earlier way, as a heatmap + contour per frame
with redraw (plotly repaints the whole figure). Prints, per variant, ms per frame (Plotly.animate through 60
frames, one after the other), what the 4x button plays in 2 s (the page's requestAnimationFrame ticks per
second and distinct fields shown per second) and the figure's JSON bytes; then the ratios.

    PYTHONPATH=. .venv/bin/python -m bench.playback_fps [--epochs 2000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import plotly
import plotly.graph_objects as go
import plotly.io as pio
from playwright.sync_api import sync_playwright

from bench.server import CHROMIUM, CHROMIUM_ARGS
from nonlin_core import datasets, inspection, playback
from nonlin_core.config import RunConfig
from nonlin_core.training import train_steps
from nonlin_ui.field_frames import SCRIPT

STEP = """async (redraw) => { const gd = document.getElementById('g');
  const names = gd._transitionData._frames.map((f) => f.name).slice(0, 60);
  const t0 = performance.now();
  for (const name of names) await Plotly.animate(gd, [name], {frame: {duration: 0, redraw}, mode: 'immediate',
                                                              transition: {duration: 0}});
  return (performance.now() - t0) / names.length; }"""

# the 4x button from the first frame, 2 s: rAF ticks and distinct fields (the <image> href, or the heatmap's z)
PLAY = """async () => { const gd = document.getElementById('g');
  await Plotly.animate(gd, [gd._transitionData._frames[0].name], {frame: {duration: 0, redraw: true},
                                                                   mode: 'immediate'});
  const field = () => { const im = gd.querySelector('.imagelayer image');
    if (im) return im.getAttribute('href');
    const heat = gd.data.find((t) => t.type === 'heatmap');       // frames merge into one z: its bdata
    return heat && heat.z ? (heat.z.bdata || heat.z) : null; };
  let ticks = 0, changes = 0, last = field(), run = true;
  const tick = () => { ticks++; const f = field(); if (f !== last) { changes++; last = f; }
                       if (run) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const four = gd.layout.updatemenus[1].buttons[4];
  Plotly.animate(gd, four.args[0], four.args[1]).catch(() => {});
  await new Promise((r) => setTimeout(r, 2000));
  run = false;
  await Plotly.animate(gd, [null], {mode: 'immediate', frame: {duration: 0, redraw: false}}).catch(() => {});
  return [ticks / 2, changes / 2]; }"""


def heatmap_reference(fig: dict, timelapse, frame) -> dict:
    """The figure as it was drawn before: data[0] a heatmap (zsmooth best) and a contour line of the uint8 field
    (base64 typed arrays, as plotly.io sends numpy), frames of their z with redraw (plotly animates a heatmap
    only by repainting the whole figure)."""
    ref = copy.deepcopy(fig)
    ref["layout"].pop("images")
    bar = ref["data"][0]["marker"]
    heats = [playback.quantised_fields(timelapse.probabilities(i)[0])[0] for i in range(len(timelapse.epochs))]
    ref["data"][:2] = [
        {"type": "heatmap", "x": frame.xs, "y": frame.ys, "z": heats[-1], "zmin": 0, "zmax": 100, "zsmooth": "best",
         "colorscale": bar["colorscale"], "showscale": True, "colorbar": bar.get("colorbar", {})},
        {"type": "contour", "x": frame.xs, "y": frame.ys, "z": heats[-1], "showscale": False,
         "line": {"color": "#111827", "width": 2}, "contours": {"start": 50, "end": 50, "size": 1, "coloring": "none"}}]
    ref["frames"] = [{"name": str(epoch), "data": [{"type": "heatmap", "z": z}, {"type": "contour", "z": z}],
                      "traces": [0, 1]} for epoch, z in zip(timelapse.epochs, heats)]
    for menu in ref["layout"]["updatemenus"]:
        for button in menu["buttons"]:
            button["args"][1]["frame"]["redraw"] = button["label"] != "❚❚ Pause"
    return json.loads(pio.to_json(go.Figure(ref, _validate=False), validate=False))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.playback_fps", description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2000, help="epochs of the circles run (batch 256)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over both variants (medians printed)")
    args = parser.parse_args()
    config = RunConfig(epochs=args.epochs, batch_size=256, seed=2001)
    frame = inspection.boundary_frame(datasets.load(config), resolution=60)
    for snap in train_steps(config, grid=True, timelapse=True):
        pass
    timelapse = playback.with_latest(snap.timelapse, snap.grid, snap.epoch)
    started = time.perf_counter()
    built = playback.boundary_timelapse(frame, timelapse, config=config, title="Decision boundary",
                                        history=snap.history)
    build_ms = 1000 * (time.perf_counter() - started)
    new = json.loads(pio.to_json(built, validate=False))
    variants = {"heatmap + redraw (reference)": heatmap_reference(new, timelapse, frame), "field images": new}
    sizes = {name: len(json.dumps(fig)) for name, fig in variants.items()}
    with open(f"{plotly.__path__[0]}/package_data/plotly.min.js") as f:
        js = f.read()
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_content("<html><body><div id=g style='width:800px;height:620px'></div></body></html>")
        page.add_script_tag(content=js)
        page.add_script_tag(content=SCRIPT.removeprefix("<script>").removesuffix("</script>"))
        for _ in range(args.repeats):
            for name, fig in variants.items():
                page.evaluate("(f) => Plotly.newPlot('g', f.data, f.layout, {displaylogo: false})"
                              ".then(() => Plotly.addFrames('g', f.frames))", fig)
                redraw = fig["layout"]["updatemenus"][0]["buttons"][0]["args"][1]["frame"]["redraw"]
                ms = page.evaluate(STEP, redraw)
                raf, fields = page.evaluate(PLAY)
                results[name].append((ms, raf, fields))
        browser.close()
    print(f"circles, {args.epochs} epochs: {len(timelapse.epochs)} frames; figure built in {build_ms:.0f} ms")
    med = {}
    for name, rows in results.items():
        med[name] = [statistics.median(r[i] for r in rows) for i in range(3)]
        ms, raf, fields = med[name]
        print(f"{name:30} {ms:7.1f} ms/frame  4x: {raf:5.1f} rAF/s, {fields:5.1f} fields/s  "
              f"{sizes[name] / 1e6:5.2f} MB JSON  (runs: {', '.join(f'{r[0]:.0f}' for r in rows)} ms)")
    ref, mine = med["heatmap + redraw (reference)"], med["field images"]
    fields = f"{mine[2] / ref[2]:.1f}x" if ref[2] else "(the reference showed no field change)"
    print(f"ratio field images / reference: ms per frame {mine[0] / ref[0]:.2f}, 4x fields/s {fields}, "
          f"JSON bytes {sizes['field images'] / sizes['heatmap + redraw (reference)']:.2f}")


if __name__ == "__main__":
    main()
