"""What recording gradient flow (per-layer gradient norms every epoch) and L1/L2 penalties cost the engine,
as ratios against the same runs without them, measured interleaved in this one process.

python -m bench.grad_flow [--repeats 5]"""
from __future__ import annotations

import argparse
import statistics
import time
from unittest import mock

from nonlin_core import datasets
from nonlin_core.config import RunConfig
from nonlin_core.flow import GradNorms
from nonlin_core.training import Trainer
from nonlin_core.tuning import configure_process

CASES = {
    "circles full batch 2-10-10-1, 1000 epochs": RunConfig(),
    "moons batch 32 2-16-16-16-1, 60 epochs": RunConfig(dataset="moons", noise=0.2, hidden_layers=(16, 16, 16),
                                                         batch_size=32, epochs=60),
    "circles 8 layers x 16, full batch, 300 epochs": RunConfig(hidden_layers=(16,) * 8, epochs=300),
}


def seconds(config: RunConfig, data, *, record: bool) -> float:
    start = time.perf_counter()
    with mock.patch.object(GradNorms, "record", GradNorms.record if record else lambda self, e, g: None):
        for _ in Trainer(config, dataset=data).steps(snapshot_seconds=1e9):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    configure_process()
    for name, config in CASES.items():
        data = datasets.load(config)
        seconds(config.replace(epochs=2), data, record=True)               # warm up
        pairs = [(seconds(config, data, record=False), seconds(config, data, record=True))
                 for _ in range(args.repeats)]
        off, on = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
        l12 = statistics.median(seconds(config.replace(l1=1e-3, l2=1e-3), data, record=True)
                                for _ in range(args.repeats))
        print(f"{name}: grad norms on/off {on / off:.3f}x ({on:.2f} s vs {off:.2f} s); "
              f"with l1+l2 vs without {l12 / on:.3f}x")


if __name__ == "__main__":
    main()
