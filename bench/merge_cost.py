"""What merging queued jobs costs, as ratios against one run measured in the same process:

    PYTHONPATH=. .venv/bin/python -m bench.merge_cost [--members 10] [--epochs 300] [--repeat 3]

The runs of bench.ws_load (moons, 500 samples, batch 32, the Playground's grid and time-lapse): one run alone;
`members` runs of one activation (different seeds) as one merged job; `members` runs of different activations
as one merged job; the same `members` runs one after another. A merged job pays off when it costs less than its
runs one after another; how much less is what a class gains from merging (merging.MERGE_MATCH)."""
from __future__ import annotations

import argparse
import time

from bench.load_test import ACTIVATIONS
from nonlin_core.config import RunConfig
from nonlin_core.training import Trainer


def seconds(configs: list[RunConfig]) -> float:
    """Wall time of one job training configs (as the job manager streams it: grid and time-lapse on)."""
    t = time.perf_counter()
    for _ in Trainer(configs).steps(grid=True, grid_resolution=60, timelapse=True, snapshot_seconds=0.2):
        pass
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.merge_cost", description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (the box is shared)")
    args = parser.parse_args(argv)
    base = RunConfig(dataset="moons", n_samples=500, noise=0.2, batch_size=32, epochs=args.epochs, device="cpu")
    acts = [ACTIVATIONS[k % len(ACTIVATIONS)] for k in range(args.members)]
    cases = {
        "one run": lambda: seconds([base]),
        f"{args.members} runs of one activation, merged": lambda: seconds(
            [base.replace(seed=k) for k in range(args.members)]),
        f"{args.members} runs of {len(set(acts))} activations, merged": lambda: seconds(
            [base.replace(seed=k, activation=a) for k, a in enumerate(acts)]),
        f"{args.members} runs of {len(set(acts))} activations, one after another": lambda: sum(
            seconds([base.replace(seed=k, activation=a)]) for k, a in enumerate(acts)),
    }
    seconds([base.replace(epochs=5)])                            # first kernels, lazy imports: not timed
    best = {name: min(case() for _ in range(args.repeat)) for name, case in cases.items()}
    ref = best["one run"]
    print(f"moons, 500 samples, batch 32, {args.epochs} epochs; best of {args.repeat}; ratio to one run")
    for name, s in best.items():
        print(f"  {name:<48} {s:7.2f} s  {s / ref:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
