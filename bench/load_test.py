"""Load test: N browser sessions at once on the real server, each training R runs one after another on the
Playground. Run on demand (not part of pytest):

    PYTHONPATH=. .venv/bin/python -m bench.load_test --sessions 30 --runs 3
    ... --url http://127.0.0.1:8501 --store PATH/runs.sqlite3 --pid PID     (a server already running)

Each session is a browser context (one chromium, N contexts) that opens the Playground with its own config
(dataset circles/moons/xor by session, seed 1000+i, mini-batch 32, --epochs epochs), clicks Train, follows the run
to its end, picks the next activation and trains again, R times. Every config differs, so nothing dedupes.

Figures, all timed with the page's own clock (performance.now(); the click happens inside the page, so
Playwright's round trips are not in them), sampled by the page every 25 ms:
- Train -> first update: from the Train button's click() until the status line (container run_status) first
  shows other text than before the click ("Not trained yet"): "Queued — …", "Running — epoch k / n" or
  "Done — …". The server's answer to the click, drawn in the page.
- Train -> first progress: until the boundary chart's epoch (layout.meta.epoch) is >= 1 while the status says
  Running or Done: training has visibly started (includes the wait for a free worker).
- Train -> done: until the status line starts with "Done".
- error: an exception box, a page error or console error, a status Failed/Diverged/Stopped, a refused job
  (the busy warning), or a run with no end within --run-timeout (or none 30 s after an uncaught page error:
  the page is taken as frozen).
- lost run: clicked but never at an end state on the page, or its config key missing from the store afterwards
  or there with another status than 'done'.
- server memory: VmRSS of the streamlit process (/proc/<pid>/status) every 0.5 s: start, peak, end.
- page stall: the longest pause of the page's own 25 ms timer between the click and the end of the run. A page
  whose main thread is starved (chromium rendering many pages on few cores) shows late updates however fast
  the server answered; this says how much of a latency is the browser's.
- wire: from the websocket message the click sent until the first message back that holds a status line, as
  chromium's network stack timestamps them (DevTools Network events): the server's answer without the page's
  rendering, though still through the browser process. --no-wire skips it.
- CPU: the server's CPU seconds against the machine's busy CPU seconds (/proc/stat) over the sessions; the rest
  is chromium, Playwright and this script.
Results print as a summary; per-run details go to artifacts/load_test.json.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import sqlite3
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlparse

from bench.server import CHROMIUM, CHROMIUM_ARGS, ROOT, StreamlitServer
from nonlin_core.config import RunConfig

ARTIFACTS = ROOT / "artifacts"
DATASETS = ("circles", "moons", "xor")
NOISE = {"circles": 0.03, "moons": 0.2, "xor": 0.05}
ACTIVATIONS = ("relu", "tanh", "gelu", "silu", "elu", "leaky_relu", "sigmoid", "softplus", "mish", "selu")
ENDED = ("Done", "Failed", "Diverged", "Stopped")
BUSY = ("jobs queued or running", "the server is busy")
# keep every page's timers running at full rate: the browser should not hide the server's latency
LOAD_ARGS = CHROMIUM_ARGS + ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                             "--disable-backgrounding-occluded-windows"]

SAMPLER = """() => {
  if (window.__nl) return;
  window.__nl = {samples: [], stalls: [], tick: performance.now()};
  setInterval(() => {
    const now = performance.now();
    if (now - window.__nl.tick > 100) window.__nl.stalls.push([now, now - window.__nl.tick]);
    window.__nl.tick = now;
    const gd = Array.from(document.querySelectorAll('.st-key-boundary .js-plotly-plot'))
      .find((e) => e.offsetParent !== null);            // on screen, not a hidden copy Streamlit keeps a moment
    const box = document.querySelector('.st-key-run_status');
    const rec = {epoch: gd && gd.layout && gd.layout.meta ? gd.layout.meta.epoch : null,
                 status: box ? box.innerText.trim().split('\\n')[0] : '',
                 exception: !!document.querySelector('[data-testid=stException]')};
    const all = window.__nl.samples, last = all[all.length - 1];
    if (!last || last.epoch !== rec.epoch || last.status !== rec.status || last.exception !== rec.exception) {
      rec.t = performance.now();
      all.push(rec);
    }
  }, 25);
}"""

# uncaught errors of the page (Streamlit's own frontend included), with their time
CATCH_ERRORS = """window.addEventListener('error', (e) => {
  window.__nlErr = window.__nlErr || {message: String(e.message), t: performance.now()};
});"""

END_STATE = """([ended, busy]) => {
  if (document.querySelector('[data-testid=stException]')) return 'exception';
  const err = window.__nlErr;
  if (err && performance.now() - err.t > 30000) return 'frozen 30 s after a page error: ' + err.message;
  const box = document.querySelector('.st-key-run_status');
  const status = box ? box.innerText.trim() : '';
  if (ended.some((w) => status.startsWith(w))) return status.split('\\n')[0];
  const alerts = Array.from(document.querySelectorAll('[data-testid=stAlert]')).map((a) => a.innerText);
  const refused = alerts.find((a) => busy.some((b) => a.includes(b)));
  return refused ? 'refused: ' + refused : false;
}"""

CLICK = """() => { const b = document.querySelector('.st-key-btn_pg_train button'); b.click(); return performance.now(); }"""


@dataclass
class Run:
    session: int
    index: int
    key: str = ""
    config: str = ""
    end: str = ""                   # the status line's first line at the end, or what went wrong
    first_update_s: float | None = None
    first_progress_s: float | None = None
    done_s: float | None = None
    stall_s: float | None = None    # the page's longest pause of its 25 ms timer between click and end
    wire_s: float | None = None     # the click's message sent -> first status message received (browser network)
    stored: str = ""                # the store's status for the key afterwards
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.end.startswith("Done") and not self.errors

    @property
    def lost(self) -> bool:
        return not self.end.startswith(ENDED) or self.stored != "done"


def config_of(url: str) -> RunConfig:
    return RunConfig.from_query(dict(parse_qsl(urlparse(url).query)))


def timings(samples: list[dict], clicked: float, before: str) -> tuple[float | None, float | None, float | None]:
    after = [s for s in samples if s["t"] >= clicked]
    update = next((s for s in after if s["status"] != before), None)
    progress = next((s for s in after if (s["epoch"] or 0) >= 1 and s["status"].startswith(("Running", "Done"))), None)
    done = next((s for s in after if s["status"].startswith("Done")), None)
    return tuple(None if s is None else (s["t"] - clicked) / 1000 for s in (update, progress, done))


async def wait_fresh(page, activation: str, timeout_ms: float) -> None:
    """The page shows the new config, untrained ('Not trained yet', the activation in the URL), and its Train button
    is drawn (a button's component loads lazily: a skeleton stands in its place at first)."""
    await page.wait_for_function(
        """(a) => { const b = document.querySelector('.st-key-run_status');
                    const inUrl = a === 'relu' ? !location.search.includes('activation=')
                                               : location.search.includes('activation=' + a + '&')
                                                 || location.search.endsWith('activation=' + a);
                    return inUrl && b && b.innerText.trim().startsWith('Not trained yet')
                           && !!document.querySelector('.st-key-btn_pg_train button:not([disabled])'); }""",
        arg=activation, timeout=timeout_ms, polling=100)


STATUS_BYTES = tuple(f"{word} —".encode() for word in ("Queued", "Running", "Done", "Failed", "Stopped", "Diverged"))


class Wire:
    """The page's websocket frames as chromium's network stack sees them (DevTools timestamps, not the page's
    busy main thread): after arm(), the first frame sent (the click's message) and the first frame received
    after it that holds a status line ('Queued —', 'Running —', 'Done —', ...)."""

    def __init__(self):
        self.sent: float | None = None
        self.got: float | None = None
        self.armed = False

    def arm(self) -> None:
        self.sent = self.got = None
        self.armed = True

    def on_sent(self, event: dict) -> None:
        if self.armed and self.sent is None and event["response"].get("opcode") == 2:
            self.sent = event["timestamp"]

    def on_received(self, event: dict) -> None:
        if not self.armed or self.sent is None or self.got is not None or event["response"].get("opcode") != 2:
            return
        if any(b in base64.b64decode(event["response"].get("payloadData", "")) for b in STATUS_BYTES):
            self.got, self.armed = event["timestamp"], False

    @property
    def latency(self) -> float | None:
        return None if self.sent is None or self.got is None else self.got - self.sent


async def session(browser, i: int, args, base_url: str, runs: list[Run], failed: list[str],
                  started: asyncio.Event) -> None:
    await started.wait()
    await asyncio.sleep(args.ramp * i / max(1, args.sessions))
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(CATCH_ERRORS)
    page = await context.new_page()
    wire = Wire()
    if args.wire:
        cdp = await context.new_cdp_session(page)
        cdp.on("Network.webSocketFrameSent", wire.on_sent)
        cdp.on("Network.webSocketFrameReceived", wire.on_received)
        await cdp.send("Network.enable")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    dataset = args.datasets[i % len(args.datasets)]
    acts = [ACTIVATIONS[(i + r) % len(ACTIVATIONS)] for r in range(args.runs)]
    config = RunConfig(dataset=dataset, n_samples=args.samples, noise=NOISE[dataset], batch_size=32, epochs=args.epochs,
                       seed=1000 + i, activation=acts[0])
    timeout_ms = args.run_timeout * 1000
    seen = 0                        # errors up to here belong to a run already
    try:
        await page.goto(f"{base_url}/?{urlencode(config.to_query())}", timeout=timeout_ms)
        await wait_fresh(page, acts[0], timeout_ms)
        await page.evaluate(SAMPLER)
        for r, act in enumerate(acts):
            if r:
                await page.locator(".st-key-pg_activation button").filter(has_text=re.compile(f"^{act}$")).click(
                    timeout=timeout_ms)
                await wait_fresh(page, act, timeout_ms)
            run = Run(i, r)
            shown = config_of(page.url)
            run.key, run.config = shown.key, urlencode(shown.to_query())
            before = (await page.inner_text(".st-key-run_status")).strip().split("\n")[0]
            seen = len(errors)
            wire.arm()
            clicked = await page.evaluate(CLICK)
            runs.append(run)
            try:
                handle = await page.wait_for_function(END_STATE, arg=[list(ENDED), list(BUSY)], timeout=timeout_ms,
                                                      polling=100)
                run.end = await handle.json_value()
            except Exception as exc:  # noqa: BLE001 - a timeout is a finding, not a crash of the load test
                run.end = f"no end within {args.run_timeout:.0f} s ({type(exc).__name__}); page: {await page_state(page)}"
                await shoot(page, f"load_test_stuck_{i}_{r}.png")
            samples, stalls, ended = await page.evaluate("() => [window.__nl.samples, window.__nl.stalls, performance.now()]")
            run.first_update_s, run.first_progress_s, run.done_s = timings(samples, clicked, before)
            run.wire_s = wire.latency
            run.stall_s = max([gap for t, gap in stalls if clicked <= t <= ended], default=0.0) / 1000
            run.errors, seen = errors[seen:], len(errors)
            if not run.end.startswith("Done"):
                break
    except Exception as exc:  # noqa: BLE001
        state = await page_state(page)
        errors.append(f"session {i}: {type(exc).__name__}: {str(exc).splitlines()[0]}; page: {state}")
        await shoot(page, f"load_test_failed_{i}.png")
        failed.append(f"after {sum(r.session == i for r in runs)} clicked runs: {errors[-1]}")
        seen = len(errors)
    finally:
        if len(errors) > seen:
            failed.append(f"session {i}, between runs: {errors[seen:][:3]}")
        if i == 0:
            await shoot(page, "load_test_session0.png")
        await context.close()


async def page_state(page) -> str:
    try:
        return await page.evaluate("""() => JSON.stringify({url: location.href,
            status: (document.querySelector('.st-key-run_status') || {}).innerText,
            train: !!document.querySelector('.st-key-btn_pg_train button:not([disabled])'),
            exception: !!document.querySelector('[data-testid=stException]')})""")
    except Exception as exc:  # noqa: BLE001
        return f"unreadable ({type(exc).__name__})"


async def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        await page.screenshot(path=str(ARTIFACTS / name), timeout=30_000)
    except Exception:  # noqa: BLE001 - a screenshot is a courtesy
        pass


class Sampler(threading.Thread):
    """Every 0.5 s the server's VmRSS and how long its /_stcore/health takes to answer (its event loop's
    responsiveness, without a browser); server and machine CPU seconds between start() and stop()."""

    def __init__(self, pid: int | None, url: str):
        super().__init__(daemon=True)
        self.pid, self.url, self.rss_mb, self.health_s, self._halt = pid, url, [], [], threading.Event()
        self.cpu0 = self.busy0 = self.cpu1 = self.busy1 = 0.0

    def _server_cpu(self) -> float:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, TypeError, IndexError):
            return 0.0

    @staticmethod
    def _busy_cpu() -> float:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")      # all but idle and iowait

    def _rss(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except (OSError, TypeError):
            return None
        return None

    def run(self) -> None:
        self.cpu0, self.busy0 = self._server_cpu(), self._busy_cpu()
        while not self._halt.is_set():
            if self.pid and (rss := self._rss()) is not None:
                self.rss_mb.append(rss)
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=10) as resp:
                    resp.read()
                self.health_s.append(time.perf_counter() - t)
            except OSError:
                self.health_s.append(10.0)
            self._halt.wait(0.5)

    def stop(self) -> None:
        self.cpu1, self.busy1 = self._server_cpu(), self._busy_cpu()
        self._halt.set()
        self.join()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def spread(values: list[float | None]) -> dict:
    vals = sorted(v for v in values if v is not None)
    return {"n": len(vals), "p50": percentile(vals, 50), "p95": percentile(vals, 95), "max": vals[-1] if vals else None}


def check_store(path: Path | None, runs: list[Run]) -> None:
    if path is None or not path.exists():
        for run in runs:
            run.stored = "unchecked"
        return
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        found = dict(db.execute("SELECT key, status FROM runs").fetchall())
    for run in runs:
        run.stored = found.get(run.key, "missing") if run.key else "missing"


async def drive(args, base_url: str, sampler: Sampler) -> tuple[list[Run], list[str], float, float]:
    from playwright.async_api import async_playwright

    runs: list[Run] = []
    failed: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=LOAD_ARGS)
        try:
            warm = await browser.new_page()                     # the first page load warms the engine: not measured
            t = time.perf_counter()
            await warm.goto(base_url, timeout=180_000)
            await warm.wait_for_selector(".st-key-run_status", timeout=180_000)
            warm_s = time.perf_counter() - t
            await warm.close()
            started = asyncio.Event()
            tasks = [asyncio.create_task(session(browser, i, args, base_url, runs, failed, started))
                     for i in range(args.sessions)]
            t = time.perf_counter()
            sampler.start()
            started.set()
            await asyncio.gather(*tasks)
            wall = time.perf_counter() - t
            sampler.stop()
        finally:
            await browser.close()
    return runs, failed, warm_s, wall


def fmt(s: dict) -> str:
    f = lambda v: "—" if v is None else f"{v:.2f} s"
    return f"p50 {f(s['p50'])}  p95 {f(s['p95'])}  max {f(s['max'])}  (n={s['n']})"


def datasets_arg(text: str) -> tuple[str, ...]:
    """--datasets: known toy datasets, comma separated."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in NOISE]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"{', '.join(bad) or text!r}: choose from {', '.join(DATASETS)}")
    return names


def arguments(prog: str, description: str, json_name: str) -> argparse.ArgumentParser:
    """The options both load tests take (bench.load_test and bench.ws_load)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3, help="runs per session, one after another")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--samples", type=int, default=500, help="n_samples of each run's dataset")
    parser.add_argument("--datasets", type=datasets_arg, default=("circles",),
                        help="comma list the sessions take in turn (default circles: a class on one lesson, configs "
                             "differing in seed and activation; circles,moons,xor gives three data sets)")
    parser.add_argument("--ramp", type=float, default=3.0, help="seconds over which the sessions open")
    parser.add_argument("--run-timeout", type=float, default=600.0, help="seconds a page load or run may take")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--store", type=Path, help="its NONLIN_STORE file (with --url), for the lost-run check")
    parser.add_argument("--pid", type=int, help="its process id (with --url), for memory and CPU")
    parser.add_argument("--json", type=Path, default=ARTIFACTS / json_name)
    return parser


def server_for(args, prefix: str) -> tuple[StreamlitServer | None, str, Path | None, int | None]:
    """(server we started or None, base url, store, pid): --url's server, else a fresh one on a free port."""
    if args.url:
        return None, args.url.rstrip("/"), args.store, args.pid
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    server = StreamlitServer(folder / "runs.sqlite3", folder / "server.log").start()
    print(f"server {server.url} pid {server.pid}, store {server.store}, log {server.log}")
    return server, server.url, server.store, server.pid


@dataclass
class Outcome:
    """What both load tests report: the summary dict (written to JSON) and the runs that went wrong."""
    summary: dict
    bad_runs: list[Run]
    lost: list[Run]
    never_clicked: int

    @property
    def exit_code(self) -> int:
        return 0 if not self.summary["errors"] and not self.lost and not self.never_clicked else 1


def outcome(args, runs: list[Run], failed: list[str], sampler: Sampler, warm_s: float, wall: float, **extra) -> Outcome:
    rss = sampler.rss_mb
    bad_runs = [r for r in runs if not r.ok]
    lost = [r for r in runs if r.lost and r.stored != "unchecked"]
    summary = {
        "sessions": args.sessions, "runs_per_session": args.runs, "epochs": args.epochs, "samples": args.samples,
        "cpus": os.cpu_count(), "runs_clicked": len(runs), "runs_never_clicked": args.sessions * args.runs - len(runs),
        "errors": len(bad_runs) + len(failed), "lost_runs": len(lost), "session_failures": failed,
        "train_to_first_update": spread([r.first_update_s for r in runs]),
        "train_to_first_progress": spread([r.first_progress_s for r in runs]),
        "train_to_done": spread([r.done_s for r in runs]),
        "server_rss_mb": {"start": rss[0] if rss else None, "peak": max(rss) if rss else None,
                          "end": rss[-1] if rss else None},
        "server_health_latency": spread(sampler.health_s),
        "server_cpu_s": sampler.cpu1 - sampler.cpu0, "machine_busy_cpu_s": sampler.busy1 - sampler.busy0,
        "warm_up_s": warm_s, "wall_s": wall, **extra,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"summary": summary, "runs": [asdict(r) | {"ok": r.ok} for r in runs]}, indent=1))
    return Outcome(summary, bad_runs, lost, summary["runs_never_clicked"])


def print_runs(out: Outcome, args, store: Path | None, failed: list[str], detail=lambda run: None) -> None:
    """Runs clicked, errors, lost runs, the first failures, and the three Train -> ... latencies."""
    s = out.summary
    print(f"runs clicked {s['runs_clicked']} of {args.sessions * args.runs}; errors {s['errors']}; lost runs "
          f"{s['lost_runs']}" + (" (store not checked)" if store is None else ""))
    for r in out.bad_runs[:10]:
        print(f"  session {r.session} run {r.index}: {r.end!r} stored={r.stored} {r.errors[:3]}")
        detail(r)
    for message in failed[:10]:
        print(f"  {message}")
    print(f"Train -> first update:   {fmt(s['train_to_first_update'])}   (goal p95 <= 2 s)")
    print(f"Train -> first progress: {fmt(s['train_to_first_progress'])}")
    print(f"Train -> done:           {fmt(s['train_to_done'])}")


def print_server(out: Outcome, note: str, cpu_rest: Callable[[float], str]) -> None:
    """Server memory, health latency (`note` says how it was sampled) and CPU share; cpu_rest(busy CPU seconds)
    says what took the rest."""
    s = out.summary
    rss = s["server_rss_mb"]
    if rss["start"] is not None:
        print(f"server RSS: start {rss['start']:.0f} MB, peak {rss['peak']:.0f} MB, end {rss['end']:.0f} MB")
    print(f"server /_stcore/health: {fmt(s['server_health_latency'])}   ({note})")
    server_cpu, busy_cpu = s["server_cpu_s"], s["machine_busy_cpu_s"]
    if busy_cpu > 0:
        print(f"CPU over the sessions: server {server_cpu:.0f} s of {busy_cpu:.0f} s busy ({server_cpu / busy_cpu:.0%}); "
              + cpu_rest(busy_cpu))


def main(argv: list[str] | None = None) -> int:
    parser = arguments("python -m bench.load_test", __doc__.split("\n")[0], "load_test.json")
    parser.add_argument("--no-wire", dest="wire", action="store_false",
                        help="skip the websocket timing (DevTools Network events of every page)")
    args = parser.parse_args(argv)
    server, base_url, store, pid = server_for(args, "nonlin-load-")
    sampler = Sampler(pid, base_url)
    try:
        runs, failed, warm_s, wall = asyncio.run(drive(args, base_url, sampler))
    finally:
        if server is not None:
            server.stop()
    check_store(store, runs)
    out = outcome(args, runs, failed, sampler, warm_s, wall, page_timer_stall=spread([r.stall_s for r in runs]),
                  wire_click_to_status=spread([r.wire_s for r in runs]))
    s = out.summary
    print(f"\n{args.sessions} sessions x {args.runs} runs ({args.epochs} epochs, {args.samples} samples, batch 32) "
          f"on {os.cpu_count()} CPUs; engine warm-up (first page load, not counted) {warm_s:.1f} s")
    print_runs(out, args, store, failed)
    if args.wire:
        print(f"wire: click sent -> status received: {fmt(s['wire_click_to_status'])}   (chromium's network stack)")
    print(f"page's longest stall:    {fmt(s['page_timer_stall'])}   (its 25 ms timer late: the renderer was busy)")
    print_server(out, "every 0.5 s, no browser involved", lambda busy: "the rest is chromium, Playwright and this script")
    print(f"wall time {wall:.1f} s; details in {args.json}")
    return out.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
