"""What a person sees while a model trains, measured in headless chromium against the real server. On demand
(not part of pytest):

    PYTHONPATH=. .venv/bin/python -m bench.watch [--runs N] [--epochs E] [--batch B] [--pace] [--port P]

Starts the server on a free loopback port with its own run store, opens the Playground and, N times: loads a
fresh config (circles, seed 2000+i, relu, E epochs of mini-batches: ~5 s of training), clicks Train, waits for
Done, picks tanh (train on change starts it; otherwise it clicks Train) and follows that run too, then clicks
relu (a stored run) and tanh again. At the end it plays the boundary's time-lapse, if the figure has one.
Each round switches the watchable pace off (the run is measured as it trains); --pace keeps it on.

The page samples itself on every animation frame (requestAnimationFrame): whether a boundary chart is on the
screen (a visible .st-key-boundary .js-plotly-plot, or the copy nonlin_ui.bridge keeps there while a replacing
chart is drawn; a hidden one does not count), and a checksum of the field it shows (the <image> of its
layout image, swapped per played frame; a heatmap's z in gd.data, if a figure has one). All times are
the page's own clock (performance.now()); clicks happen inside the page. Figures:
- first frame: the click that starts a run -> the first heatmap whose z differs from the one shown before the
  click; reported for Train clicks and for Activation pill clicks (train on change) apart, and both together.
- live redraws/s: distinct heatmaps drawn between the first frame and the status line's "Done", per second.
- socket bytes: sizes of the websocket frames the page received from the click to the last live redraw before
  "Done" (median, max; the finished run's time-lapse and network replay come with "Done" and are not counted,
  by time and by content: a frame with a slider), and their sum divided
  by the boundary redraws.
- blank: the longest time without a boundary chart on the page after the click, or without a heatmap once
  the first frame was drawn.
- stored run: the click on an already trained activation -> the first heatmap other than the one shown before
  (labelled when it is not the heatmap that run showed at its end). The page shows a run it has drawn before from
  its own copy in the click's turn (nonlin_ui.bridge's preview, counted as on screen); "stored run, chart" is the
  click -> that run's own chart drawn (the slider and Play work from then on).
- playback: the epoch slider dragged to its start with the mouse, then a click on the figure's "Play" (1x) and
  "4×" buttons: distinct heatmaps per second while they change, and websocket frames received meanwhile
  (should be 0).
Prints p50/p95/max of each and writes every sample to artifacts/watch.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Page, sync_playwright

from bench.load_test import ARTIFACTS, LOAD_ARGS, percentile
from bench.server import CHROMIUM, StreamlitServer
from nonlin_core.config import RunConfig

# installed before every page load: one entry per animation frame on which the boundary changed
SAMPLER = """(() => {
  const w = window.__watch = {events: [], present: null, sig: null, status: null, ticks: 0};
  const sums = new WeakMap();
  const checksum = (z) => {
    let s = 0;
    const add = (v) => { s = (s * 31 + Math.round((+v || 0) * 1000)) % 1000000007; };
    if (z.bdata !== undefined) {             // plotly's base64 typed-array encoding, as the figure arrives
      const text = String(z.bdata);
      for (let i = 0; i < text.length; i++) s = (s * 31 + text.charCodeAt(i)) % 1000000007;
      return s;
    }
    for (let i = 0; i < z.length; i++) {
      const row = z[i];
      if (row !== null && typeof row === 'object' && row.length !== undefined) {
        for (let j = 0; j < row.length; j++) add(row[j]);
      } else add(row);
    }
    return s;
  };
  const tick = () => {
    // once the page's own per-frame scripts run (nonlin_ui.bridge, live_patch), sample after them in each frame
    // (callbacks run in the order they were requested): this init script starts first, and a sample taken before
    // the bridge has put its copy in place counted a blank that was never painted
    if (!w.after && window.__nonlinBridge && window.__nonlinLivePatch) {
      w.after = true;
      setTimeout(() => requestAnimationFrame(tick), 0);
      return;
    }
    w.ticks += 1;
    // what is on screen: a clicked run's remembered look (nonlin_ui.bridge's preview, over the plot), else the
    // visible boundary plot, or the copy nonlin_ui.bridge shows while a new one is drawn
    const preview = document.querySelector('.nonlin-preview');
    const gd = preview && preview.offsetParent !== null ? preview
      : Array.from(document.querySelectorAll('.st-key-boundary .js-plotly-plot, .nonlin-bridge'))
      .find((g) => g.offsetParent !== null && getComputedStyle(g).visibility !== 'hidden'
                   && (g._fullLayout || g.classList.contains('nonlin-bridge')));
    const copied = !!gd && (gd.classList.contains('nonlin-bridge') || gd.classList.contains('nonlin-preview'));
    const data = (gd && !copied && gd.data) || [];
    const present = !!(gd && (data.length || copied));
    let sig = null;
    if (present) {
      const parts = [];
      for (const trace of data) {
        if (!trace.z) continue;
        // animation frames merge into the same z object (a new bdata string): key on both
        const known = sums.get(trace.z);
        if (known === undefined || known.bdata !== trace.z.bdata) {
          sums.set(trace.z, {bdata: trace.z.bdata, sum: checksum(trace.z)});
        }
        parts.push(sums.get(trace.z).sum);
      }
      const image = gd.querySelector('.imagelayer image');
      const href = image ? image.getAttribute('href') : null;
      if (href) {
        let h = 0;
        for (let i = 0; i < href.length; i += 3) h = (h * 31 + href.charCodeAt(i)) % 1000000007;
        parts.push(h + '/' + href.length);
      }
      if (parts.length) sig = parts.join(':');
    }
    const box = document.querySelector('.st-key-run_status');
    const status = box ? box.innerText.trim().split('\\n')[0] : '';
    const kind = !gd ? null : gd.classList.contains('nonlin-preview') ? 'preview' : copied ? 'bridge' : 'plot';
    if (present !== w.present || sig !== w.sig || status !== w.status || kind !== w.kind) {
      w.events.push({t: performance.now(), present, sig, status, kind});
      w.present = present; w.sig = sig; w.status = status; w.kind = kind;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""

CLICK_TRAIN = """() => { document.querySelector('.st-key-btn_pg_train button').click(); return performance.now(); }"""
CLICK_PILL = """(name) => {
  const b = Array.from(document.querySelectorAll('.st-key-pg_activation button'))
    .find((el) => el.innerText.trim() === name);
  b.click();
  return performance.now();
}"""
CLICK_PLAY = """() => {
  const b = Array.from(document.querySelectorAll('.st-key-boundary .updatemenu-button'))
    .find((el) => (el.textContent || '').includes('Play'));
  if (!b) return null;
  b.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  return performance.now();
}"""
STATUS_IS = """(prefixes) => { const box = document.querySelector('.st-key-run_status');
  const line = box ? box.innerText.trim() : ''; return prefixes.some((p) => line.startsWith(p)); }"""


@dataclass
class Sample:
    label: str
    how: str = "Train"                 # what started the run: "Train" (a click on it) or "pill" (train on change)
    first_frame_s: float | None = None
    redraws_per_s: float | None = None
    redraws: int = 0
    live_s: float | None = None
    blank_s: float | None = None
    frame_bytes: list[int] = field(default_factory=list)
    stored_s: float | None = None      # for a stored-run selection: click -> its own heatmap
    stored_chart_s: float | None = None  # ... -> its own heatmap in its own chart (not a copy of it)
    final_sig: str | None = None
    timeline: list[list] = field(default_factory=list)   # [s after the click, chart present, heatmap checksum, status]


class Socket:
    """Sizes of the websocket frames the page receives, with the wall clock they arrived at."""

    def __init__(self, page: Page):
        self.frames: list[tuple[float, int, bool]] = []      # (clock, bytes, a player figure: a run's end)
        page.on("websocket", lambda ws: ws.on("framereceived", self._got))

    def _got(self, payload) -> None:
        # a figure with a player (slider: the finished run's time-lapse or network replay) comes with "Done", never
        # with a live redraw
        player = (b'"sliders"' if isinstance(payload, bytes) else '"sliders"') in payload
        self.frames.append((time.monotonic(), len(payload), player))

    def since(self, t0: float) -> list[int]:
        return [n for t, n, _ in self.frames if t >= t0]


def events(page: Page, since: float) -> list[dict]:
    return page.evaluate("(t) => window.__watch.events.filter((e) => e.t >= t - 1e-6)", since)


def before(page: Page, t: float) -> dict:
    return page.evaluate("(t) => window.__watch.events.filter((e) => e.t < t).slice(-1)[0] || {}", t)


def wait_status(page: Page, prefixes: list[str], timeout_s: float) -> None:
    page.wait_for_function(STATUS_IS, arg=prefixes, timeout=timeout_s * 1000, polling=50)


def settle(page: Page, quiet_ms: float = 800, timeout_s: float = 10) -> None:
    """Until nothing on the sampled page changed for quiet_ms."""
    page.wait_for_function("(q) => performance.now() - window.__watch.events.slice(-1)[0].t > q", arg=quiet_ms,
                           timeout=timeout_s * 1000, polling=100)


def blank_gaps(evs: list[dict], clicked: float, end: float, shown_before: dict) -> float:
    """Longest stretch in [clicked, end] with no boundary chart, or with no heatmap after the first one."""
    longest, gap_from = 0.0, None
    seen_heat = bool(shown_before.get("sig"))
    state = shown_before
    timeline = [{"t": clicked, **{k: state.get(k) for k in ("present", "sig")}}] + evs + [{"t": end, "present": True,
                                                                                          "sig": "end"}]
    for e in timeline:
        seen_heat = seen_heat or bool(e.get("sig")) and e["t"] > clicked
        blank = not e.get("present") or (seen_heat and not e.get("sig"))
        if blank and gap_from is None:
            gap_from = e["t"]
        elif not blank and gap_from is not None:
            longest, gap_from = max(longest, e["t"] - gap_from), None
    return longest / 1000


def train_and_follow(page: Page, sock: Socket, label: str, clicked: float, wall0: float, timeout_s: float) -> Sample:
    """The run just started by a click at page time `clicked`: first frame, live redraws, blanks, bytes."""
    shown = before(page, clicked)
    wait_status(page, ["Done", "Failed", "Diverged", "Stopped"], timeout_s)
    wall_done = time.monotonic()
    settle(page)                                           # the final redraw comes after "Done"
    evs = events(page, clicked)
    sample = Sample(label)
    first = next((e for e in evs if e["sig"] and e["sig"] != shown.get("sig")), None)
    done = next((e for e in evs if e["status"].startswith("Done")), None)
    end = evs[-1]["t"] if evs else clicked
    if first is not None:
        sample.first_frame_s = (first["t"] - clicked) / 1000
    if first is not None and done is not None and done["t"] > first["t"]:
        sigs = [e["sig"] for e in evs if first["t"] <= e["t"] <= done["t"] and e["sig"]]
        sample.redraws = sum(1 for a, b in zip([None] + sigs, sigs) if a != b)
        sample.live_s = (done["t"] - first["t"]) / 1000
        sample.redraws_per_s = sample.redraws / sample.live_s if sample.live_s > 0 else None
    sample.blank_s = blank_gaps(evs, clicked, end, shown)
    # the live updates: frames up to the last live redraw (page time mapped onto the clock from the click), not the
    # finished run's time-lapse, which arrives with "Done" and may come before this script sees "Done"
    live_end = wall_done
    if first is not None and done is not None and done["t"] > first["t"]:
        last = max(e["t"] for e in evs if first["t"] <= e["t"] < done["t"])
        live_end = min(wall_done, wall0 + (last - clicked) / 1000 + 0.05)
    sample.frame_bytes = [n for t, n, player in sock.frames if wall0 <= t <= live_end and not player]
    sample.final_sig = next((e["sig"] for e in reversed(evs) if e["sig"]), None)
    sample.timeline = [[round((e["t"] - clicked) / 1000, 3), e["present"], e["sig"], e["status"]] for e in evs]
    return sample


def pick(page: Page, sock: Socket, name: str, timeout_s: float) -> Sample:
    """Click an activation pill: with train on change the run starts at once; otherwise click Train."""
    wall0 = time.monotonic()
    shown = before(page, page.evaluate("() => performance.now() + 1"))
    clicked = page.evaluate(CLICK_PILL, name)
    page.wait_for_function("([t, old]) => window.__watch.events.some((e) => e.t > t && e.status && e.status !== old)",
                           arg=[clicked, shown.get("status")], timeout=timeout_s * 1000, polling=50)
    how = "pill"
    if page.evaluate(STATUS_IS, ["Not trained"]):
        wall0, how = time.monotonic(), "Train"
        clicked = page.evaluate(CLICK_TRAIN)
    sample = train_and_follow(page, sock, name, clicked, wall0, timeout_s)
    sample.how = how
    return sample


def select_stored(page: Page, name: str, sig: str | None, timeout_s: float) -> Sample:
    """Click the pill of a run already trained: time to the first heatmap other than the one shown before."""
    shown = before(page, page.evaluate("() => performance.now() + 1"))
    clicked = page.evaluate(CLICK_PILL, name)
    sample = Sample(f"stored {name}")
    try:
        page.wait_for_function("([t, old]) => window.__watch.events.some((e) => e.t > t && e.sig && e.sig !== old)",
                               arg=[clicked, shown.get("sig")], timeout=timeout_s * 1000, polling=50)
    except Exception:  # noqa: BLE001 - reported as a missing figure
        return sample
    evs = events(page, clicked)
    drawn = next(e for e in evs if e["sig"] and e["sig"] != shown.get("sig"))
    sample.stored_s = (drawn["t"] - clicked) / 1000
    sample.blank_s = blank_gaps([e for e in evs if e["t"] <= drawn["t"]], clicked, drawn["t"], shown)
    settle(page)
    chart = next((e for e in events(page, clicked) if e["sig"] and e["sig"] != shown.get("sig")
                  and e.get("kind") == "plot"), None)
    sample.stored_chart_s = None if chart is None else (chart["t"] - clicked) / 1000
    sample.final_sig = page.evaluate("() => window.__watch.sig")
    sample.timeline = [[round((e["t"] - clicked) / 1000, 3), e["present"], e["sig"], e["status"]]
                       for e in events(page, clicked)]
    if sig is not None and sample.final_sig != sig:
        sample.label += " (not the heatmap it had at Done)"
    return sample


def playback(page: Page, sock: Socket, button: str, seconds: float = 3.0) -> dict:
    """Drag the epoch slider to its start and click `button` (an updatemenu button of the boundary figure, e.g.
    'Play' or '4×'), with the real mouse: distinct heatmaps per second while they change, socket frames meanwhile."""
    found = page.locator(".st-key-boundary .updatemenu-button").filter(has_text=button)
    if found.count() == 0:
        return {"button": button, "found": False}
    wall0 = time.monotonic()
    rail = page.locator(".st-key-boundary .slider-rail-touch-rect").first
    if rail.count():
        box = rail.bounding_box()
        page.mouse.click(box["x"] + 1, box["y"] + box["height"] / 2)     # back to the first frame
        page.wait_for_timeout(500)
    shown = page.evaluate("() => window.__watch.sig")
    clicked, ticks = page.evaluate("() => [performance.now(), window.__watch.ticks]")
    found.first.click()
    page.wait_for_timeout(seconds * 1000)
    ended, ticks_end = page.evaluate("() => [performance.now(), window.__watch.ticks]")
    evs = [e for e in events(page, clicked) if e["sig"]]
    changes = [e["t"] for a, e in zip([{"sig": shown}] + evs, evs) if a["sig"] != e["sig"]]
    in_two = [t for t in changes if t - clicked <= 2000]
    span = (changes[-1] - changes[0]) / 1000 if len(changes) > 1 else 0.0
    frames = sock.since(wall0)
    return {"button": button, "found": True, "changes": len(changes), "changes_in_2s": len(in_two),
            "fps": (len(changes) - 1) / span if span > 0 else None, "ws_frames": len(frames),
            "browser_fps": 1000 * (ticks_end - ticks) / (ended - clicked),
            "ws_bytes": sum(frames)}


def stats_line(name: str, values: list[float | None], unit: str = "s", scale: float = 1.0) -> str:
    got = sorted(v * scale for v in values if v is not None)
    if not got:
        return f"{name:34} (no data)"
    return (f"{name:34} p50 {statistics.median(got):8.3f} {unit}  p95 {percentile(got, 95):8.3f} {unit}  "
            f"max {max(got):8.3f} {unit}  (n={len(got)}, missing {len(values) - len(got)})")


def pace_off(page: Page) -> None:
    """Switch the Playground's watchable pace off: the figures are of the run as it trains."""
    page.locator(".st-key-pg_watchable_pace label").click()
    page.wait_for_function("() => !document.querySelector('.st-key-pg_watchable_pace input').checked")


def measure(base_url: str, runs: int, epochs: int, batch: int, timeout_s: float,
            pace: bool = False) -> tuple[list[Sample], list[dict]]:
    samples: list[Sample] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LOAD_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(SAMPLER)
        page = context.new_page()
        sock = Socket(page)
        warm = RunConfig(epochs=50, seed=1999)              # imports and the first optimizer, not counted
        page.goto(f"{base_url}/?{urlencode(warm.to_query())}", timeout=180_000)
        page.wait_for_selector(".st-key-btn_pg_train button:not([disabled])", timeout=180_000)
        page.evaluate(CLICK_TRAIN)
        wait_status(page, ["Done"], timeout_s)
        for i in range(runs):
            config = RunConfig(epochs=epochs, batch_size=batch, seed=2000 + i)
            page.goto(f"{base_url}/?{urlencode(config.to_query())}", timeout=60_000)
            page.wait_for_selector(".st-key-btn_pg_train button:not([disabled])", timeout=60_000)
            wait_status(page, ["Not trained"], timeout_s)
            if not pace:
                pace_off(page)
            page.wait_for_timeout(200)
            wall0 = time.monotonic()
            first = train_and_follow(page, sock, "relu", page.evaluate(CLICK_TRAIN), wall0, timeout_s)
            second = pick(page, sock, "tanh", timeout_s)
            samples += [first, second]
            samples.append(select_stored(page, "relu", first.final_sig, 10))
            samples.append(select_stored(page, "tanh", second.final_sig, 10))
            print(f"run {i + 1}/{runs}: first frame {first.first_frame_s}, {second.first_frame_s} s; "
                  f"stored {samples[-2].stored_s}, {samples[-1].stored_s} s", flush=True)
        played = [playback(page, sock, "Play"), playback(page, sock, "4×")]
        page.screenshot(path=str(ARTIFACTS / "watch_end.png"))
        browser.close()
    return samples, played


def report(samples: list[Sample], played: list[dict]) -> None:
    trained = [s for s in samples if not s.label.startswith("stored")]
    stored = [s for s in samples if s.label.startswith("stored")]
    frame_sizes = [n for s in trained for n in s.frame_bytes]
    per_update = [sum(s.frame_bytes) / s.redraws for s in trained if s.redraws]
    print(stats_line("Train -> first frame", [s.first_frame_s for s in trained if s.how == "Train"]))
    print(stats_line("pill (train on change) -> first frame", [s.first_frame_s for s in trained if s.how == "pill"]))
    print(stats_line("either click -> first frame", [s.first_frame_s for s in trained]))
    print(stats_line("live boundary redraws / s", [s.redraws_per_s for s in trained], "/s"))
    print(stats_line("live run length (first frame->Done)", [s.live_s for s in trained]))
    print(stats_line("socket frame received (run)", frame_sizes, "KB", 1 / 1000))
    print(stats_line("socket bytes per live redraw", per_update, "KB", 1 / 1000))
    print(stats_line("blank after Train / between frames", [s.blank_s for s in trained]))
    print(stats_line("stored run drawn after click", [s.stored_s for s in stored]))
    print(stats_line("stored run, its chart drawn", [s.stored_chart_s for s in stored]))
    print(stats_line("blank after a stored-run click", [s.blank_s for s in stored]))
    for run in played:
        if not run.get("found"):
            print(f"playback {run['button']}: no such button on the boundary figure")
            continue
        print(f"playback {run['button']:5} {run['fps'] or 0:6.1f} frames/s ({run['changes']} distinct frames, "
              f"{run['changes_in_2s']} in the first 2 s), websocket frames from the server meanwhile: "
              f"{run['ws_frames']} ({run['ws_bytes']} B); the page's animation frames: {run['browser_fps']:.0f}/s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.watch", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (each trains relu and tanh, selects both again)")
    parser.add_argument("--epochs", type=int, default=2000, help="epochs of each circles run")
    parser.add_argument("--batch", type=int, default=256, help="mini-batch size (with --epochs: ~5 s of training)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a run may take on the page")
    parser.add_argument("--pace", action="store_true",
                        help="keep the watchable pace on (default: off, the run as it trains is measured)")
    parser.add_argument("--port", type=int, help="the server's port (default: a free one)")
    parser.add_argument("--url", help="a server already running (its store should be fresh: runs must train)")
    args = parser.parse_args()
    ARTIFACTS.mkdir(exist_ok=True)
    server = None
    with tempfile.TemporaryDirectory(prefix="nonlin-watch-") as tmp:
        if args.url is None:
            server = StreamlitServer(Path(tmp) / "runs.sqlite3", ARTIFACTS / "watch_server.log", port=args.port,
                                     env={"NONLIN_DATA_DIR": tmp}).start()
        try:
            started = time.perf_counter()
            samples, played = measure(args.url or server.url, args.runs, args.epochs, args.batch, args.timeout,
                                      args.pace)
        finally:
            if server is not None:
                server.stop()
    print(f"{args.runs} rounds, circles {args.epochs} epochs, batch {args.batch}, watchable pace "
          f"{'on' if args.pace else 'off'}, "
          f"{time.perf_counter() - started:.0f} s in all")
    report(samples, played)
    out = ARTIFACTS / "watch.json"
    out.write_text(json.dumps({"runs": args.runs, "epochs": args.epochs, "batch": args.batch, "playback": played,
                               "samples": [asdict(s) for s in samples]}, indent=1))
    print(f"details: {out}")


if __name__ == "__main__":
    main()
