"""`nonlin` (= `python -m nonlin_core`) ui|train|sweep|runs|lessons|datasets|activations|caps; train's flags come from the
config field table."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from . import __version__, sweep_cli
from .config import FIELDS, ConfigError, RunConfig, caps
from .errors import DataError
from .store import StoreConfigError, StoreError

EXIT_USAGE = 2
TIMELAPSE_RESOLUTION = 60


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        raise _Usage(f"{self.prog}: {message}")


class _Usage(Exception):
    pass


def build_parser(prog: str = "python -m nonlin_core") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="nonlin: train MLPs, reproducibly, with or without the dashboard")
    parser.add_argument("--version", action="version", version=f"nonlin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ui = sub.add_parser("ui", help="serve the dashboard (extra --section.key value flags go to streamlit)")
    ui.add_argument("--port", type=int, default=8501, help="TCP port (default: 8501)")
    ui.add_argument("--address", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 for all)")
    train = sub.add_parser("train", help="train one run and print its metrics")
    default = RunConfig()
    for f in FIELDS:
        if not f.cli_flag:                               # csv_path, csv_sha256, target: through --csv / --target
            continue
        value = getattr(default, f.name)
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
        if f.kind is bool:
            train.add_argument(f.cli_flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"{f.help} (default: {shown})")
        else:
            train.add_argument(f.cli_flag, dest=f.name, default=None, metavar=f.kind.__name__.upper()
                               if f.kind is not tuple else "W,W", help=f"{f.help} (default: {shown!s})")
    train.add_argument("--preset", metavar="NAME", help="start from a lesson's preset config (see `lessons`); "
                       "the other flags given override its fields")
    train.add_argument("--csv", metavar="PATH", help="train on a CSV file (numeric features) ...")
    train.add_argument("--target", metavar="COL", help="... whose column COL is the class")
    train.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    train.add_argument("--save", action="store_true", help="store the run in the run store (NONLIN_STORE)")
    train.add_argument("--export-script", metavar="PATH", help="also write a self-contained PyTorch script that "
                       "reproduces this run and prints its final metrics as one JSON line")
    train.add_argument("--timelapse", action="store_true",
                       help="record the decision boundary's time-lapse (--save always does); --json lists its epochs")
    runs = sub.add_parser("runs", help="list the stored runs, newest first")
    runs.add_argument("--json", action="store_true", help="print one JSON list of objects (times in ISO 8601, UTC)")
    runs.add_argument("--limit", type=_positive, default=100, metavar="N", help="at most N runs (default: 100)")
    runs.add_argument("--status", metavar="S", help="only runs with this status (done, failed, interrupted, …)")
    lessons = sub.add_parser("lessons", help="list the lessons and their preset configs")
    lessons.add_argument("--json", action="store_true", help="print one JSON list (name, title, question, configs)")
    sweep_cli.add_parser(sub)
    sub.add_parser("datasets", help="list the datasets")
    sub.add_parser("activations", help="list the activation functions")
    sub.add_parser("caps", help="show the server caps in force")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def config_from_args(ns: argparse.Namespace) -> RunConfig:
    """RunConfig from parsed flags; ConfigError/DataError on bad values."""
    from .datasets import read_csv_file, sha256_bytes

    values = {f.name: getattr(ns, f.name) for f in FIELDS if f.cli_flag and getattr(ns, f.name) is not None}
    if getattr(ns, "preset", None):
        from .lessons import preset
        values = {**preset(ns.preset).to_dict(), **values}
    if ns.csv or ns.target:
        if not (ns.csv and ns.target):
            raise ConfigError("--csv and --target go together")
        if values.get("dataset", "csv") != "csv":
            raise ConfigError("--csv cannot be combined with --dataset")
        path = Path(ns.csv).expanduser().resolve()
        values.update(dataset="csv", csv_path=str(path), csv_sha256=sha256_bytes(read_csv_file(path)), target=ns.target)
        values.setdefault("standardize", True)
    return RunConfig.from_dict(values).check_caps()      # a request: within the server caps


def _bar(snap, width: int = 30) -> str:
    done = int(width * snap.epoch / max(snap.epochs, 1))
    last = {m: v[0, -1] for m, v in snap.history.items() if v.shape[1]}
    tail = f" loss {last['train_loss']:.4f} test acc {last['test_acc']:.3f}" if last else ""
    return f"\r[{'#' * done}{'.' * (width - done)}] {snap.epoch}/{snap.epochs}{tail}"


def cmd_train(ns: argparse.Namespace) -> int:
    from .flow import share_list, stored_history
    from .store import RunRecord, default_store, history_lists
    from .training import METRICS, Trainer
    from .tuning import configure_process

    config = config_from_args(ns)
    if ns.export_script:
        from .export_script import script_text
        path = Path(ns.export_script)
        try:
            path.write_text(script_text(config, name=path.name))
        except OSError as exc:
            raise ConfigError(f"--export-script: cannot write {path} ({exc.strerror or exc})") from None
    configure_process()
    trainer = Trainer(config)
    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: cancel.set())
    snap = None
    for snap in trainer.steps(cancel=cancel, snapshot_seconds=0.2, timelapse=ns.timelapse or ns.save,
                              grid_resolution=TIMELAPSE_RESOLUTION):
        if not ns.json and sys.stderr.isatty():
            print(_bar(snap), end="", file=sys.stderr, flush=True)
    m = snap.member(0)
    history = stored_history(history_lists({name: m.history[name][0] for name in METRICS}), m)  # + grad_norm
    final = m.final[0]
    status, message = m.status[0], m.messages[0]
    if ns.save:
        store = default_store()             # an unreadable store: main() prints one line
        store.finish(RunRecord(config.key, config, status, message, history, final, m.device, m.seconds,
                               state_dict=m.state_dicts[0], timelapse=m.timelapse))
    if ns.json:
        out = {"config": config.to_dict(), "key": config.key, "status": status, "message": message,
               "device": m.device, "seconds": round(m.seconds, 4), "history": history,
               "final": {k: final[k] for k in ("train_loss", "test_loss", "train_acc", "test_acc", "f1",
                                                 "linear_regions")}
               if final else None}
        out["units"] = {"saturated": share_list(m.saturated[0]), "dead": share_list(m.dead[0])}
        if ns.timelapse:
            out["timelapse"] = {"epochs": m.timelapse.epochs, "resolution": m.timelapse.resolution}
        print(json.dumps(out))
    else:
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(f"run {config.key}  {status}  {m.epoch}/{m.epochs} epochs in {m.seconds:.2f} s on {m.device}")
        if message:
            print(message)
        if final:
            print(f"{'':8}{'loss':>10}{'accuracy':>10}")
            for part in ("train", "test"):
                print(f"{part:8}{final[part + '_loss']:>10.4f}{final[part + '_acc']:>10.3f}")
            print(f"test macro-F1 {final['f1']:.3f}")
            if final.get("linear_regions") is not None:
                print(f"linear regions {final['linear_regions']} (activation patterns seen on the plotted plane: "
                      "a lower bound)")
            print("confusion (rows true, columns predicted):")
            for row in final["confusion"]:
                print("  " + " ".join(f"{v:>6}" for v in row))
    return 0 if status == "done" else 1


def cmd_lessons(ns: argparse.Namespace) -> int:
    from .lessons import LESSONS, summary

    if ns.json:
        print(json.dumps([summary(lesson) for lesson in LESSONS.values()]))
        return 0
    for lesson in LESSONS.values():
        print(f"{lesson.name:12} {lesson.title}")
        for name in lesson.presets:
            print(f"{'':12}   train --preset {name}")
    return 0


def cmd_list(command: str) -> int:
    if command == "datasets":
        from .datasets import DATASETS
        for name, info in DATASETS.items():
            print(f"{name:14} {'k classes' if info.multiclass else '2 classes':10} {info.blurb}")
    elif command == "activations":
        from .models import ACTIVATIONS
        for name, act in ACTIVATIONS.items():
            print(f"{name:11} {act.formula}")
    else:
        from .limits import max_job_seconds, max_work
        for name, value in caps().items():
            print(f"{name:8} {value}")
        print(f"{'work':8} {max_work():g}   (units per job, NONLIN_MAX_WORK; 0 = no budget)")
        print(f"{'seconds':8} {max_job_seconds():g}   (wall-clock limit per job, NONLIN_MAX_JOB_SECONDS; 0 = none)")
    return 0


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def run_summary(record) -> dict:
    """One stored run as a JSON-safe dict: key, status, message, config, final (or None), created, updated."""
    return {"key": record.key, "status": record.status, "message": record.message, "config": record.config.to_dict(),
            "final": record.final, "created": _iso(record.created_at), "updated": _iso(record.updated_at)}


def cmd_runs(ns: argparse.Namespace) -> int:
    from .store import default_store

    store = default_store()
    try:
        records = store.list_runs(limit=ns.limit, status=ns.status)
    finally:
        store.close()
    if ns.json:
        print(json.dumps([run_summary(r) for r in records]))
        return 0
    print(f"{'key':18}{'status':13}{'updated (UTC)':21}{'dataset':15}{'hidden':12}{'activation':12}{'epochs':>7}{'test acc':>10}")
    for r in records:
        c, acc = r.config, (r.final or {}).get("test_acc")
        hidden = ",".join(map(str, c.hidden_layers)) or "-"
        updated = _iso(r.updated_at)[:19].replace("T", " ")
        print(f"{r.key:18}{r.status:13}{updated:21}{c.dataset:15}{hidden:12}{c.activation:12}{c.epochs:>7}"
              f"{'' if acc is None else f'{acc:.3f}':>10}")
    if not records:
        print("(no stored runs" + (f" with status {ns.status!r})" if ns.status else ")"))
    return 0


def cmd_ui(ns: argparse.Namespace, extra: list[str]) -> int:
    from .executors import executor_name
    from .launch import serve_env, streamlit_argv

    executor_name()                                      # a bad NONLIN_EXECUTOR: one line now, not a page traceback
    argv = streamlit_argv(ns.port, ns.address, extra)
    sys.stdout.flush()
    os.execve(argv[0], argv, serve_env())                # streamlit replaces this process: signals reach it directly


def main(argv: list[str] | None = None, prog: str = "python -m nonlin_core") -> int:
    parser = build_parser(prog)
    try:
        ns, extra = parser.parse_known_args(argv)
        if extra and ns.command != "ui":
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if ns.command == "ui":
            return cmd_ui(ns, extra)
        commands = {"train": cmd_train, "runs": cmd_runs, "lessons": cmd_lessons, "sweep": sweep_cli.cmd_sweep}
        return commands[ns.command](ns) if ns.command in commands else cmd_list(ns.command)
    except _Usage as exc:
        print(str(exc), file=sys.stderr)
    except (ConfigError, DataError, FileNotFoundError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
    except StoreConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
    except (sqlite3.Error, StoreError) as exc:
        from .store import redact, store_url
        print(f"{prog}: the run store {redact(store_url())} cannot be used ({exc})", file=sys.stderr)
        return 1
    except BrokenPipeError:                 # `nonlin runs | head`: the reader left; no traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return EXIT_USAGE


def nonlin_command() -> int:
    """The `nonlin` console script."""
    return main(prog="nonlin")
