"""Load test over Streamlit's own wire protocol: N sessions at once on the real server, each training R runs one after
another on the Playground, driven by websocket clients instead of browsers. Run on demand (not part of pytest):

    PYTHONPATH=. .venv/bin/python -m bench.ws_load --sessions 30 --runs 3
    ... --url http://127.0.0.1:8501 --store PATH/runs.sqlite3 --pid PID     (a server already running)

The same sessions, runs, figures and exit code as bench/load_test.py, without chromium: there, on 2 CPUs, the
renderers of 30 pages take most of the machine and their late painting is in every latency. Here a session is one
bench.st_client.Tab: a websocket to /_stcore/stream that speaks what Streamlit's frontend speaks (see that
module for what it mirrors). Train is a trigger_value; each next run is a pick of the next activation (the pills'
string_array_value), which trains it at once (the Playground's Train on change, on by default). It does not draw,
so the server's work per session is a browser's and the client's is small (its CPU is reported).

Figures, timed with perf_counter in this process at the socket (no rendering in them):
- Train -> first update: from sending the click's (or the activation pick's) rerun until the status line (the
  first element in container run_status) first reads otherwise than before the click: "Queued — …",
  "Running — epoch k / n" or "Done — …".
- Train -> first progress: until it reads "Running — epoch k / n" with k >= 1, or "Done" (bench/load_test.py uses
  the boundary chart's epoch; both redraw on the same 0.3 s fragment timer).
- Train -> done: until it reads "Done".
- error: an exception element, a status Failed/Diverged/Stopped, a refused job (the busy warning), a run with no
  end within --run-timeout, the websocket closed, or a message the frontend could not have applied.
- lost run, server RSS, /_stcore/health latency, server CPU: as in bench/load_test.py.
- script runs: new_session -> script_finished of every full and fragment run the sessions saw finish.
Results print as a summary; per-run details (with each failed run's status timeline) go to artifacts/ws_load.json.
"""
from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bench.load_test import (
    ACTIVATIONS,
    NOISE,
    Run,
    Sampler,
    arguments,
    check_store,
    fmt,
    outcome,
    print_runs,
    print_server,
    server_for,
    spread,
    timings,
)
from bench.st_client import ACTIVATION_KEY, TRAIN_KEY, Tab
from nonlin_core.config import RunConfig


@dataclass
class WsRun(Run):
    timeline: list[dict] = field(default_factory=list)     # status changes after the click (failed runs only)


async def session(i: int, args, base_url: str, runs: list[Run], failed: list[str], tabs: list[Tab],
                  started: asyncio.Event) -> None:
    await started.wait()
    await asyncio.sleep(args.ramp * i / max(1, args.sessions))
    dataset = args.datasets[i % len(args.datasets)]
    acts = [ACTIVATIONS[(i + r) % len(ACTIVATIONS)] for r in range(args.runs)]
    config = RunConfig(dataset=dataset, n_samples=args.samples, noise=NOISE[dataset], batch_size=32, epochs=args.epochs,
                       seed=1000 + i, activation=acts[0])
    timeout, tab, seen = args.run_timeout, None, 0
    try:
        tab = await Tab.open(base_url, urlencode(config.to_query()), timeout)
        tabs.append(tab)
        await tab.wait_for(lambda: tab.fresh(acts[0]), timeout)
        shown = tab.config()
        if shown is None:
            raise ValueError(f"the page's query string is not a config: {tab.query!r}")
        for r, act in enumerate(acts):
            run, shown = WsRun(i, r), shown.replace(activation=act)
            run.key, run.config = shown.key, urlencode(shown.to_query())
            before, seen, first = tab.status, len(tab.errors), len(tab.samples)
            if r:       # Train on change (the Playground's default): picking the activation trains it
                clicked = time.perf_counter()
                await tab.choose(ACTIVATION_KEY, act)
            else:
                clicked = await tab.click(TRAIN_KEY)
            runs.append(run)
            moved = lambda: any(s["status"] != before for s in tab.samples[first:])    # noqa: E731 - not the last run's end
            try:
                run.end = await tab.wait_for(lambda: moved() and tab.end_state(seen), timeout)
            except (TimeoutError, ConnectionError) as exc:
                run.end = f"no end: {exc}; page: {tab.state()}"
            run.first_update_s, run.first_progress_s, run.done_s = timings(tab.samples, clicked * 1000, before)
            run.errors, seen = tab.errors[seen:], len(tab.errors)
            if not run.ok:
                run.timeline = [{"t": round(s["t"] / 1000 - clicked, 3), "status": s["status"]} for s in tab.samples[first:]]
            if not run.end.startswith("Done"):
                break
    except Exception as exc:  # noqa: BLE001 - a failed session is a finding, not a crash of the load test
        state = tab.state() if tab is not None else "not connected"
        failed.append(f"session {i} after {sum(r.session == i for r in runs)} clicked runs: {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''}; page: {state}")
        seen = len(tab.errors) if tab is not None else 0
    finally:
        if tab is not None:
            if len(tab.errors) > seen:
                failed.append(f"session {i}, between runs: {tab.errors[seen:][:3]}")
            await tab.close()


async def drive(args, base_url: str, sampler: Sampler) -> tuple[list[Run], list[str], list[Tab], float, float, float]:
    runs: list[Run] = []
    failed: list[str] = []
    tabs: list[Tab] = []
    RunConfig.within_caps()                             # its validation imports torch and scikit-learn: not in the timings
    t = time.perf_counter()                             # the first session warms the engine: not measured
    warm = await Tab.open(base_url, "", 180)
    await warm.wait_for(lambda: warm.status, 180)
    await warm.close()
    warm_s = time.perf_counter() - t
    started = asyncio.Event()
    tasks = [asyncio.create_task(session(i, args, base_url, runs, failed, tabs, started)) for i in range(args.sessions)]
    t, cpu = time.perf_counter(), time.process_time()
    sampler.start()
    started.set()
    await asyncio.gather(*tasks)
    wall, client_cpu = time.perf_counter() - t, time.process_time() - cpu
    sampler.stop()
    return runs, failed, tabs, warm_s, wall, client_cpu


def log_problems(log: Path | None) -> list[str]:
    """Lines of the server's log that name an error, a traceback or a warning."""
    if log is None or not log.exists():
        return []
    return [line for line in log.read_text(errors="replace").splitlines() if re.search(r"Traceback|ERROR|Error|WARNING", line)]


def main(argv: list[str] | None = None) -> int:
    args = arguments("python -m bench.ws_load", __doc__.split("\n")[0], "ws_load.json").parse_args(argv)
    server, base_url, store, pid = server_for(args, "nonlin-wsload-")
    log = server.log if server is not None else None
    sampler = Sampler(pid, base_url)
    try:
        runs, failed, tabs, warm_s, wall, client_cpu = asyncio.run(drive(args, base_url, sampler))
    finally:
        if server is not None:
            server.stop()
    check_store(store, runs)
    counts = {k: sum(t.counts[k] for t in tabs) for k in ("messages", "bytes", "reruns", "auto_reruns", "cache_hits")}
    problems = log_problems(log)
    out = outcome(args, runs, failed, sampler, warm_s, wall, client_cpu_s=client_cpu,
                  script_run_full=spread([s for t in tabs for s in t.script_s["full"]]),
                  script_run_fragment=spread([s for t in tabs for s in t.script_s["fragment"]]),
                  client_messages=counts, server_log_problems=problems[:50])
    s = out.summary
    print(f"\n{args.sessions} websocket sessions x {args.runs} runs ({args.epochs} epochs, {args.samples} samples, "
          f"batch 32) on {os.cpu_count()} CPUs; engine warm-up (first session, not counted) {warm_s:.1f} s")
    print_runs(out, args, store, failed, detail=lambda r: print(
        f"    status after the click: {[(t['t'], t['status'][:40]) for t in r.timeline[-6:]]}"))
    print(f"script runs, full:       {fmt(s['script_run_full'])}   (new_session -> script_finished)")
    print(f"script runs, fragment:   {fmt(s['script_run_fragment'])}")
    print_server(out, "every 0.5 s", lambda busy: f"these clients {client_cpu:.0f} s ({client_cpu / busy:.0%}); "
                                                  "the rest is other processes")
    print(f"messages: {counts['messages']} received ({counts['bytes'] / 1e6:.1f} MB, {counts['cache_hits']} from the "
          f"cache), {counts['reruns']} reruns and {counts['auto_reruns']} fragment timer reruns sent")
    if log is not None:
        print(f"server log: {len(problems)} lines naming an error or warning" + "".join(f"\n  {p}" for p in problems[:5]))
    print(f"wall time {wall:.1f} s; details in {args.json}")
    return out.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
