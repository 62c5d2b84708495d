"""`nonlin sweep`: activation x depth x width x seed on one dataset, one batched job per shape, trained on the
executor NONLIN_EXECUTOR names (threads, processes, or Ray at RAY_ADDRESS): the same numbers on each."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .config import FIELDS, ConfigError, RunConfig
from .control import RunControl
from .executors import TrainSpec, executor_from_env, executor_name, workers_from_env
from .snapshot import Snapshot
from .sweep import SweepSpec, plan

SWEPT = {"hidden_layers", "activation", "seed"}          # set per run by the sweep's own flags
_HIDDEN = {"csv_path", "csv_sha256", "target"}


def _names(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing")
    return names


def _counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(dict.fromkeys(int(t) for t in text.split(",") if t.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers >= 0")
    return values


def add_parser(sub) -> None:
    """The `sweep` subcommand: the sweep's axes, plus train's config flags for everything else."""
    p = sub.add_parser("sweep", help="train activation x depth x width x seed on one dataset; print each run's "
                                     "test accuracy (NONLIN_EXECUTOR: threads, processes or ray)")
    p.add_argument("--activations", type=_names, required=True, metavar="A,B", help="activations, e.g. relu,tanh")
    p.add_argument("--depths", type=_counts, required=True, metavar="D,D", help="hidden layer counts, e.g. 1,2")
    p.add_argument("--widths", type=_counts, required=True, metavar="W,W", help="units per hidden layer, e.g. 4,8")
    p.add_argument("--seeds", type=int, default=2, metavar="N", help="seeds 0..N-1 per cell (default: 2)")
    default = RunConfig()
    for f in FIELDS:
        if f.name in SWEPT | _HIDDEN:
            continue
        shown = getattr(default, f.name)
        if f.kind is bool:
            p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, action=argparse.BooleanOptionalAction,
                           default=None, help=f"{f.help} (default: {shown})")
        else:
            p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, metavar=f.kind.__name__.upper(),
                           help=f"{f.help} (default: {shown})")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--save", action="store_true", help="store every run in the run store (NONLIN_STORE)")


def spec_from_args(ns: argparse.Namespace) -> SweepSpec:
    """SweepSpec from parsed flags; ConfigError on bad values or over the server caps."""
    values = {f.name: getattr(ns, f.name) for f in FIELDS
              if f.name not in SWEPT | _HIDDEN and getattr(ns, f.name, None) is not None}
    base = RunConfig.from_dict(values)
    if ns.seeds < 1:
        raise ConfigError(f"--seeds: {ns.seeds} is below 1")
    spec = SweepSpec(base, ns.activations, ns.depths, ns.widths, ns.seeds)
    for group in plan(spec):                 # every run: valid activation, within the caps
        for config in (group[0], *{c.activation: c for c in group}.values()):
            config.check_caps()
    return spec


def train_groups(groups: list[list[RunConfig]]) -> list[Snapshot]:
    """Each group's final snapshot, trained on the executor NONLIN_EXECUTOR names (its workers in parallel)."""
    executor = executor_from_env(workers_from_env())
    spec = TrainSpec(grid=False, timelapse=False, snapshot_seconds=3600.0)

    def final(configs: list[RunConfig]) -> Snapshot:
        snap = None
        for snap in executor.stream(configs, spec, RunControl()):
            pass
        return snap

    try:
        with ThreadPoolExecutor(max_workers=executor.slots) as pool:
            return list(pool.map(final, groups))
    finally:
        executor.shutdown()


def cmd_sweep(ns: argparse.Namespace) -> int:
    """Run the sweep; print its runs (JSON: one object with `runs`), exit 1 unless every run ended done."""
    from .tuning import configure_process

    spec = spec_from_args(ns)
    groups = plan(spec)
    name = executor_name()
    configure_process()
    started = time.perf_counter()
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr) if ns.json else contextlib.nullcontext():
        finals = train_groups(groups)        # with --json, stdout is the JSON alone: what a library prints goes to
    seconds = time.perf_counter() - started  # stderr (Ray prints its raylet's notices, a killed worker's, to stdout)
    runs = []
    for configs, snap in zip(groups, finals):
        for k, c in enumerate(configs):
            final = snap.final[k] if snap.final else None
            runs.append({"key": c.key, "activation": c.activation, "depth": len(c.hidden_layers),
                         "width": c.hidden_layers[0] if c.hidden_layers else 0, "seed": c.seed,
                         "status": snap.status[k], "test_acc": None if final is None else final["test_acc"],
                         "train_acc": None if final is None else final["train_acc"]})
    if ns.save:
        _save(groups, finals)
    if ns.json:
        print(json.dumps({"dataset": spec.base.dataset, "epochs": spec.base.epochs, "executor": name,
                          "seconds": round(seconds, 3), "runs": runs}), file=out)
    else:
        print(f"{len(runs)} runs in {len(groups)} batched jobs on {name} in {seconds:.1f} s "
              f"({spec.base.dataset}, {spec.base.epochs} epochs)")
        print(f"{'activation':12}{'depth':>6}{'width':>6}{'seed':>6}{'status':>10}{'test acc':>10}")
        for r in runs:
            acc = "" if r["test_acc"] is None else f"{r['test_acc']:.3f}"
            print(f"{r['activation']:12}{r['depth']:>6}{r['width']:>6}{r['seed']:>6}{r['status']:>10}{acc:>10}")
    sys.stdout.flush()
    return 0 if all(r["status"] == "done" for r in runs) else 1


def _save(groups: list[list[RunConfig]], finals: list[Snapshot]) -> None:
    from .store import RunRecord, default_store, history_lists
    from .training import METRICS

    store = default_store()
    try:
        for configs, snap in zip(groups, finals):
            for k, c in enumerate(configs):
                m = snap.member(k)
                store.finish(RunRecord(c.key, c, m.status[0], m.messages[0], history_lists(
                    {name: m.history[name][0] for name in METRICS}), m.final[0], m.device, m.seconds,
                    state_dict=m.state_dicts[0]))
    finally:
        store.close()
