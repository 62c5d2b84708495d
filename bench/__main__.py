"""`make bench`: the engine against reference loops, as ratios measured in this one process.

python -m bench [--only core|batch] [--device cpu|cuda] [--ks 1,8,32,128] [--epochs 1000] [--repeats 3]
                [--clock wall|cpu]
K may go up to 1024; `--device cuda` without a CUDA GPU prints that it is skipped and exits 0."""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from nonlin_core import datasets
from nonlin_core.config import RunConfig
from nonlin_core.reference import textbook_train
from nonlin_core.training import Trainer
from nonlin_core.tuning import configure_process

from .ensemble import ensemble_train

CIRCLES = RunConfig()  # the tutorial: 1000 samples, noise 0.03, 2→10→10→1, SGD 0.1, 1000 full-batch epochs, BCE
MAX_K = 1024
MOONS = RunConfig(dataset="moons", n_samples=10_000, noise=0.2, hidden_layers=(10,), loss="ce", optimizer="adamw",
                  lr=1e-3, weight_decay=0.01, batch_size=32, epochs=50)


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}   # cpu: this thread's CPU seconds
clock = CLOCKS["wall"]


def timed(fn):
    start = clock()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return clock() - start, out


def engine(configs, data):
    snap = None
    for snap in Trainer(configs, dataset=data).steps(snapshot_seconds=1e9):
        pass
    return snap


def median_pair(ref_fn, eng_fn, repeats: int):
    """Interleaved runs; medians of each."""
    refs, engs, out = [], [], None
    for _ in range(repeats):
        t, r = timed(ref_fn)
        refs.append(t)
        t, out = timed(eng_fn)
        engs.append((t, r))
    return statistics.median(refs), statistics.median(t for t, _ in engs), engs[-1][1], out


def bench_core(repeats: int, device: str) -> None:
    for name, config, what in (("circles", CIRCLES, "textbook loop"), ("moons", MOONS, "DataLoader loop")):
        config = config.replace(device=device)
        data = datasets.load(config)
        engine([config.replace(epochs=5)], data)             # warm-up: lazy imports, allocator
        textbook_train(config.replace(epochs=2, device="cpu"), data)
        reps = repeats if name == "circles" else max(1, repeats - 1)
        ref_s, eng_s, ref_hist, snap = median_pair(lambda: textbook_train(config, data), lambda: engine([config], data), reps)
        print(f"{name:8} {what:16} {ref_s:7.3f} s   engine {eng_s:7.3f} s   speed-up {ref_s / eng_s:5.2f}x   "
              f"test acc reference {ref_hist['test_acc'][-1]:.4f} engine {snap.history['test_acc'][0, -1]:.4f}"
              f"   ({config.epochs} epochs, history every epoch, device {snap.device})")


def bench_batch(ks: list[int], device: str, epochs: int, repeats: int) -> None:
    config = CIRCLES.replace(device=device, epochs=epochs)
    data = datasets.load(config)
    engine([config.replace(epochs=5)] * 2, data)
    ensemble_train([config.replace(epochs=5)] * 2, data, device)
    t1 = statistics.median(timed(lambda: engine([config], data))[0] for _ in range(repeats))
    print(f"batched circles ({epochs} epochs), K models (seeds 0..K-1) in one computation vs one model, and vs "
          f"PyTorch's ensembling recipe (stack_module_state + vmap(grad(functional_call)), fused {config.optimizer}), "
          f"device {device}, medians of {repeats} interleaved runs:")
    print(f"{'K':>6} {'batched s':>10} {'K x one s':>10} {'vs K=1':>8} {'vs sequential':>14} {'recipe s':>9} "
          f"{'recipe/engine':>14}")
    for k in ks:
        configs = [config.replace(seed=s) for s in range(k)]
        tr, tk, hist, snap = median_pair(lambda: ensemble_train(configs, data, device), lambda: engine(configs, data),
                                         repeats)
        seq = t1 * k
        print(f"{k:>6} {tk:>10.3f} {seq:>10.3f} {tk / t1:>7.2f}x {seq / tk:>13.2f}x {tr:>9.3f} {tr / tk:>13.2f}x   "
              f"mean test acc {snap.history['test_acc'][:, -1].mean():.3f} (recipe {hist['test_acc'][:, -1].mean():.3f})")


def parse_ks(text: str) -> list[int]:
    """"1,8,32" -> [1, 8, 32]; each K a whole number from 1 to MAX_K."""
    try:
        ks = [int(k) for k in text.split(",")]
    except ValueError:
        ks = []
    if not ks or not all(1 <= k <= MAX_K for k in ks):
        raise argparse.ArgumentTypeError(f"--ks {text!r}: give whole numbers from 1 to {MAX_K}, comma-separated")
    return ks


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", choices=["core", "batch"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--ks", type=parse_ks, default=[1, 8, 32, 128], help=f"K values, 1..{MAX_K}")
    parser.add_argument("--epochs", type=int, default=CIRCLES.epochs, help="epochs of the batched runs")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per row; medians are printed")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="cpu: this thread's CPU time, steadier than wall time on a shared machine (CPU runs only)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA GPU here; skipped")
        sys.exit(0)
    if args.clock == "cpu" and args.device != "cpu":
        parser.error("--clock cpu times CPU runs only (a GPU's work is not this thread's CPU time)")
    global clock
    clock = CLOCKS[args.clock]
    configure_process(freeze_gc=False)   # threads from NONLIN_TORCH_THREADS (default 1), allocator
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.clock} clock; ratios are measured "
          "in this process")
    if args.only in (None, "core"):
        bench_core(args.repeats, args.device)
    if args.only in (None, "batch"):
        bench_batch(args.ks, args.device, args.epochs, args.repeats)


if __name__ == "__main__":
    main()
