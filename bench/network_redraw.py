"""Server time of one live redraw of the network diagram (8 hidden layers x 16 units), as a ratio against the
boundary figure's build in the same process; also the payload each sends to the browser.

python -m bench.network_redraw [--repeats 20] [--hidden 16,16,16,16,16,16,16,16]

A redraw = what the Playground's live fragment does per diagram: rebuild the model from the snapshot's flat
parameters, compute every unit's thumbnail (network_view), build the figure and serialise it (plotly JSON, as
st.plotly_chart does). The boundary redraw = decision_boundary from the snapshot's probabilities + JSON.
Also a variant for comparison: one heatmap per layer (the thumbnails tiled with NaN gaps) instead of a PNG
per unit."""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import plotly.io as pio
import torch

from nonlin_core import datasets, inspection, plots
from nonlin_core.config import RunConfig
from nonlin_core.network import network_view, output_kind, snapshot_model
from nonlin_core.network_plot import network_diagram
from nonlin_core.training import train_steps
from nonlin_core.tuning import configure_process


def median_ms(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times), out


def heatmap_per_layer(view) -> str:
    """The alternative: every layer's thumbnails stacked in one heatmap trace (NaN rows between units)."""
    traces = []
    for layer, thumbs in enumerate(view.thumbs):
        T = thumbs.shape[1]
        gap = np.full((T // 4, T), np.nan)
        z = np.concatenate([np.concatenate([t / (np.abs(t).max() or 1), gap]) for t in thumbs])
        traces.append({"type": "heatmap", "z": z, "x0": layer * 3 * T, "dx": 1, "showscale": False})
    return pio.to_json({"data": traces, "layout": {}}, validate=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--hidden", default="16,16,16,16,16,16,16,16")
    args = parser.parse_args()
    configure_process()
    config = RunConfig(dataset="spiral", hidden_layers=tuple(int(w) for w in args.hidden.split(",")),
                       activation="relu", epochs=40)
    data = datasets.load(config)
    snap = next(s for s in train_steps(config, grid=True, snapshot_every=20) if s.epoch >= 20 and not s.done)
    frame = inspection.boundary_frame(data)

    def boundary() -> str:
        fig = plots.decision_boundary(frame.xs, frame.ys, snap.grid[0], X_train=frame.X_train, y_train=frame.y_train,
                                      X_test=frame.X_test, y_test=frame.y_test, class_names=frame.class_names,
                                      epoch=snap.epoch)
        return pio.to_json(fig, validate=False)

    def view():
        return network_view(snapshot_model(config, data, snap), data, probabilities=output_kind(config.loss))

    def diagram() -> str:
        return pio.to_json(network_diagram(view()), validate=False)

    boundary(), diagram()                                    # warm
    b_ms, b_json = median_ms(boundary, args.repeats)
    d_ms, d_json = median_ms(diagram, args.repeats)
    v_ms, v = median_ms(view, args.repeats)
    h_ms, h_json = median_ms(lambda: heatmap_per_layer(v), args.repeats)
    units = sum(v.shown(layer) for layer in range(len(v.thumbs)))
    print(f"network {args.hidden} ({units} units drawn, {sum(w.size for w in v.weights)} edges), "
          f"median of {args.repeats}, torch threads {torch.get_num_threads()}")
    print(f"boundary figure + JSON     {b_ms:7.1f} ms  {len(b_json) / 1e3:7.1f} kB   1.00x")
    print(f"network diagram + JSON     {d_ms:7.1f} ms  {len(d_json) / 1e3:7.1f} kB   {d_ms / b_ms:.2f}x the boundary")
    print(f"  of which model + thumbs  {v_ms:7.1f} ms")
    print(f"variant: heatmap per layer {h_ms:7.1f} ms  {len(h_json) / 1e3:7.1f} kB   (thumbnails only, no edges)")


if __name__ == "__main__":
    main()
