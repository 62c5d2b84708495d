"""Run store operations per backend, as ratios against SQLite measured in the same process:

    PYTHONPATH=. .venv/bin/python -m bench.store_ops --postgres postgresql://USER@127.0.0.1:PORT/DB [--runs 200]

For each backend (a fresh SQLite file; the PostgreSQL database given, whose runs table it empties first):
begin + finish of a run with a 300-epoch history and a small model (what a job writes), get (what a page opening
a finished run reads), list_runs(50) and count_runs (the Runs page). Prints milliseconds per operation and each
backend's ratio to SQLite."""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nonlin_core.config import RunConfig
from nonlin_core.store import RunRecord, history_lists, open_store


def a_record(seed: int) -> RunRecord:
    config = RunConfig(seed=seed, epochs=300)
    rng = np.random.default_rng(seed)
    history = history_lists({m: rng.random(300) for m in ("train_loss", "test_loss", "train_acc", "test_acc")})
    state = {"0.weight": torch.randn(8, 2, dtype=torch.float64), "0.bias": torch.randn(8, dtype=torch.float64),
             "2.weight": torch.randn(1, 8, dtype=torch.float64), "2.bias": torch.randn(1, dtype=torch.float64)}
    return RunRecord(config.key, config, "done", "", history, {"test_acc": 0.9}, "cpu", 1.0, state_dict=state)


def measure(url: str, runs: int) -> dict[str, float]:
    """Milliseconds per operation on the store at url."""
    store = open_store(url)
    try:
        if hasattr(store, "_q"):
            store._q("DELETE FROM runs")
        records = [a_record(i) for i in range(runs)]
        out = {}
        t = time.perf_counter()
        for r in records:
            store.begin(r.config)
            store.finish(r)
        out["begin + finish"] = (time.perf_counter() - t) / runs * 1e3
        t = time.perf_counter()
        for r in records:
            store.get(r.key)
        out["get"] = (time.perf_counter() - t) / runs * 1e3
        t = time.perf_counter()
        for _ in range(20):
            store.list_runs(50)
            store.count_runs()
        out["list_runs(50) + count"] = (time.perf_counter() - t) / 20 * 1e3
        return out
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_ops", description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL database URL to compare with SQLite")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nonlin-store-bench-"))
    backends = {"sqlite": str(folder / "runs.sqlite3")}
    if args.postgres:
        backends["postgresql"] = args.postgres
    try:
        measure(backends["sqlite"], 10)                      # imports and first queries, not counted
        results = {name: measure(url, args.runs) for name, url in backends.items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.runs} runs; ms per operation (ratio to sqlite)")
    for op in results["sqlite"]:
        cells = [f"{name} {r[op]:7.2f} ms ({r[op] / results['sqlite'][op]:.2f}x)" for name, r in results.items()]
        print(f"  {op:24}" + "   ".join(cells))


if __name__ == "__main__":
    main()
