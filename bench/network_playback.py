"""Server time and payload of the network diagram that plays with the time-lapse (a paused or finished run's
first draw: every recorded frame's model and thumbnails, the figure with its animation frames, its JSON), as a
ratio against the boundary's time-lapse figure (+ JSON) of the same run in the same process.

python -m bench.network_playback [--repeats 5] [--hidden 10,10 --hidden 16,16,16,16,16,16,16,16]"""
from __future__ import annotations

import argparse

import plotly.io as pio

from bench.network_redraw import median_ms
from nonlin_core import datasets, inspection, playback
from nonlin_core.config import RunConfig
from nonlin_core.network_playback import FIGURE_BUDGET, network_timelapse, timelapse_views
from nonlin_core.training import train
from nonlin_core.tuning import configure_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", action="append", help="hidden widths, e.g. 10,10 (repeatable)")
    args = parser.parse_args()
    configure_process()
    for hidden in args.hidden or ["10,10", "16,16,16,16,16,16,16,16"]:
        config = RunConfig(dataset="moons", hidden_layers=tuple(int(w) for w in hidden.split(",")), activation="tanh",
                           epochs=1000)
        data = datasets.load(config)
        snap = train(config, timelapse=True)
        tl = snap.timelapse
        frame = inspection.boundary_frame(data)

        def boundary() -> str:
            return pio.to_json(playback.boundary_timelapse(frame, tl, config=config, history=snap.history),
                               validate=False)

        def diagram() -> str:
            return pio.to_json(network_timelapse(timelapse_views(config, data, tl), tl.epochs), validate=False)

        boundary(), diagram()                                    # warm
        b_ms, b_json = median_ms(boundary, args.repeats)
        d_ms, d_json = median_ms(diagram, args.repeats)
        kept = network_timelapse(timelapse_views(config, data, tl), tl.epochs).layout.meta["epochs"]
        print(f"hidden {hidden}: {len(tl.epochs)} recorded frames, P = {tl.params.shape[-1]}, "
              f"median of {args.repeats}")
        print(f"  boundary time-lapse + JSON  {b_ms:7.1f} ms  {len(b_json) / 1e3:7.1f} kB   1.00x")
        print(f"  diagram time-lapse + JSON   {d_ms:7.1f} ms  {len(d_json) / 1e3:7.1f} kB   {d_ms / b_ms:.2f}x the "
              f"boundary; {len(kept)} frames kept (budget {FIGURE_BUDGET / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
