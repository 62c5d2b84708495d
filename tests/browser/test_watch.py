"""Real browser: watching a run learn. The finished run's time-lapse plays in the browser (no server message
while it plays), the lab controls drive the run from the page, and one click on an activation trains it while
the previous boundary stays on screen, dimmed. Screenshots go to artifacts/ (NONLIN_SHOTS: also there)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.server import ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "artifacts"
SHOTS = Path(os.environ.get("NONLIN_SHOTS", ARTIFACTS))
TRAIN_TIMEOUT_MS = 120_000
# The boundary's plot. Streamlit sometimes keeps a second copy of its element beside it in the DOM, hidden
# (display: none), e.g. around a paused run's timer ticks: locators take the visible one (":visible", Playwright's),
# page scripts the plot (or nonlin_ui.bridge's stand-in copy) with an offsetParent (SHOWN), LABEL its slider's label.
CHART = ".st-key-boundary:visible .js-plotly-plot"
SHOWN = ("Array.from(document.querySelectorAll('.st-key-boundary .js-plotly-plot, .nonlin-bridge'))"
         ".find((g) => g.offsetParent !== null && getComputedStyle(g).visibility !== 'hidden'"
         " && (g._fullLayout || g.classList.contains('nonlin-bridge')))")
LABEL = f"({SHOWN} || document.body).querySelector('.slider-group > .slider-label')"
LABEL_TEXT = "((" + LABEL + ") || {textContent: ''}).textContent"
VIEWPORT = (1400, 1000)                                       # the page fixture (conftest)

# On every animation frame: the boundary's plot (a number per plot element: a new one is a remount), its epoch
# (the slider's label or layout.meta), the finished run it shows (layout.meta.run), a hash of the field image it
# shows (the <image>'s href, swapped per played frame) and its opacity, and the status line; a sample is kept when
# any of them changed.
SAMPLER = """() => {
  if (window.__watch) return;
  window.__watch = {samples: []};
  const sig = (z) => {
    if (!z) return null;
    const s = typeof z === 'string' ? z : JSON.stringify(z);
    let h = 0;
    for (let i = 0; i < s.length; i += 3) h = (h * 31 + s.charCodeAt(i)) | 0;
    return h + ':' + s.length;
  };
  const tick = () => {
    const gd = """ + SHOWN + """;
    if (gd && !gd.__watchNode) gd.__watchNode = (window.__watch.nodes = (window.__watch.nodes || 0) + 1);
    const image = gd ? gd.querySelector('.imagelayer image') : null;
    const spec = image && gd.layout && gd.layout.images ? gd.layout.images[0] : null;
    const label = gd ? gd.querySelector('.slider-group > .slider-label') : null;
    const box = document.querySelector('.st-key-run_status');
    const rec = {node: gd ? gd.__watchNode : null, label: label ? label.textContent : null,
                 epoch: gd && gd.layout && gd.layout.meta ? gd.layout.meta.epoch : null,
                 run: gd && gd.layout && gd.layout.meta ? gd.layout.meta.run || null : null,
                 z: image ? sig(image.getAttribute('href')) : null,
                 opacity: spec ? (spec.opacity ?? 1) : image ? Number(image.getAttribute('opacity') ?? 1) : null,
                 status: box ? box.innerText.trim().split('\\n')[0] : ''};
    const all = window.__watch.samples, last = all[all.length - 1];
    if (!last || ['node', 'label', 'epoch', 'run', 'z', 'opacity', 'status'].some((k) => last[k] !== rec[k])) {
      rec.t = performance.now();
      all.push(rec);
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def status_starts(page, word: str, timeout: int = TRAIN_TIMEOUT_MS) -> None:
    page.wait_for_function("(w) => { const b = document.querySelector('.st-key-run_status');"
                           " return b && b.innerText.trim().startsWith(w); }", arg=word, timeout=timeout)


def samples(page) -> list[dict]:
    return page.evaluate("() => window.__watch.samples")


def now(page) -> float:
    return page.evaluate("() => performance.now()")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def real_errors(page) -> list[str]:
    """Page errors, less the one plotly.js raises by design when Pause interrupts an animation (it rejects the
    interrupted animation's promise with undefined)."""
    return [e for e in page.errors if e != "pageerror: undefined"]


def at_last_frame(page, epochs: int) -> None:
    """Until the boundary's slider reads the run's last epoch (at the watchable pace, once its replay ended)."""
    page.wait_for_function(f"() => {{ const l = {LABEL};"
                           f" return l && l.textContent.startsWith('epoch {epochs} ·'); }}", timeout=TRAIN_TIMEOUT_MS)


# the key of the finished run whose time-lapse the boundary shows (layout.meta.run), or a falsy value
SHOWN_RUN = f"(() => {{ const gd = {SHOWN}; return gd && gd.layout && gd.layout.meta && gd.layout.meta.run; }})()"
IDLE = "document.querySelector('[data-test-script-state=notRunning]')"       # the page's script run is over


def shown_run(page) -> str:
    """The key of the finished run whose time-lapse the boundary shows (layout.meta.run)."""
    run = page.evaluate(f"() => {SHOWN_RUN}")
    assert run, "the boundary shows no finished run"
    return run


def other_run_shown(page, old: str) -> None:
    """Until the boundary shows a finished run other than `old`. (Its status line is no sign: two fast runs of the
    same size both read "Done — 300 epochs in 0.2 s …", and a run done within the click's own response never shows
    "Running".)"""
    page.wait_for_function(f"(old) => {{ const run = {SHOWN_RUN}; return run && run !== old; }}", arg=old,
                           timeout=TRAIN_TIMEOUT_MS)


def plotly_button(page, label: str):
    return page.locator(f"{CHART} .updatemenu-button").filter(has_text=label)


def test_a_finished_run_plays_in_the_browser_without_the_server(page, server):
    page.goto(server + "/?epochs=400")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    page.wait_for_function(f"() => {{ const gd = {SHOWN};"
                           " return gd && gd._transitionData && gd._transitionData._frames.length >= 100; }")
    at_last_frame(page, 400)
    page.evaluate(SAMPLER)
    assert re.match(r"epoch 400 · test acc \d", page.text_content(f"{CHART} .slider-group > .slider-label"))
    page.locator(f"{CHART} .slider-rail-touch-rect").click(position={"x": 2, "y": 5})   # scrub to the start
    page.wait_for_function(f"() => {LABEL_TEXT}"
                           ".startsWith('epoch 0')")
    received, start = len(page.received), now(page)
    plotly_button(page, "2×").click()
    page.wait_for_function("(t) => { const s = window.__watch.samples.filter((x) => x.t >= t);"
                           " return new Set(s.map((x) => x.z)).size >= 10 && new Set(s.map((x) => x.label)).size >= 10; }",
                           arg=start, timeout=60_000)              # ten played frames (a busy box plays slower)
    played = [s for s in samples(page) if s["t"] >= start]
    zs, labels = {s["z"] for s in played}, {s["label"] for s in played}
    assert len(zs) >= 10 and len(labels) >= 10, played
    assert len(page.received) == received, "the server sent messages during playback"
    shoot(page, "watch_scrubber_1400x1000.png")
    plotly_button(page, "❚❚ Pause").click()
    assert not real_errors(page), page.errors


# the three sizes when screenshots are asked for (NONLIN_SHOTS=folder); else the test's own size only: resizing
# mid-run is no part of what these tests check, and a live chart resized while it streams can miss a paint
SIZES = ((1400, 1000), (1280, 720), (1024, 768)) if os.environ.get("NONLIN_SHOTS") else (VIEWPORT,)


def shoot_sizes(page, name: str) -> None:
    """The viewport at each of SIZES: name_WxH.png."""
    size = page.viewport_size
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        shoot(page, f"{name}_{w}x{h}.png")
    page.set_viewport_size(size)


def lab_button(page, name: str):
    """Pause, step1, ... (the button itself: with a help tooltip the container holds two nodes that match)."""
    return page.locator(f".st-key-btn_pg_{name} [data-testid^='stBaseButton']").first


def paused_epoch(page) -> int:
    status_starts(page, "Paused at epoch")
    return int(re.match(r"Paused at epoch (\d+)", page.inner_text(".st-key-run_status")).group(1))


def paused_again(page, epoch: int) -> int:
    """The epoch of the next "Paused at epoch N" status with N != epoch (a step's end); on a timeout, an error that
    says what the page showed instead (a step that never ended and a page that stopped updating read alike)."""
    try:
        page.wait_for_function("(e) => { const m = /^Paused at epoch (\\d+) /.exec("
                               "document.querySelector('.st-key-run_status').innerText.trim());"
                               " return m && Number(m[1]) !== e; }", arg=epoch, timeout=TRAIN_TIMEOUT_MS)
    except PlaywrightTimeout:
        raise AssertionError(f"no step past epoch {epoch}: the status reads "
                             f"{page.inner_text('.st-key-run_status')!r}; page errors {page.errors}") from None
    return int(re.match(r"Paused at epoch (\d+)", page.inner_text(".st-key-run_status").strip()).group(1))


def test_pause_step_reset_resume_and_stop_from_the_page(page, server):
    page.goto(server + "/?epochs=5000&seed=3&batch_size=16")     # ~50 steps an epoch: minutes
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Running")
    page.wait_for_function(f"() => {{ const gd = {SHOWN};"
                           " return gd && gd.layout && gd.layout.meta && gd.layout.meta.epoch >= 50; }")
    shoot_sizes(page, "watch_live")
    lab_button(page, "pause").click()
    k = paused_epoch(page)
    page.wait_for_selector(f"{CHART} .slider-group > .slider-label")       # the paused run: its time-lapse so far
    assert page.text_content(f"{CHART} .slider-group > .slider-label").startswith(f"epoch {k}")
    shoot_sizes(page, "watch_paused")
    lab_button(page, "step10").click()
    assert paused_again(page, k) == k + 10
    lab_button(page, "step1").click()
    assert paused_again(page, k + 10) == k + 11
    page.locator(f"{CHART} .slider-rail-touch-rect").click(position={"x": 60, "y": 5})    # scrub back
    page.wait_for_function(f"(k) => !{LABEL_TEXT}"
                           ".startsWith(`epoch ${k}`)", arg=k + 11)
    shoot_sizes(page, "watch_scrubber")
    lab_button(page, "reset").click()
    status_starts(page, "Paused at epoch 0 /")                                # the same seed, untrained
    lab_button(page, "resume").click()
    status_starts(page, "Running")
    lab_button(page, "stop").click()
    status_starts(page, "Stopped")
    assert not real_errors(page), page.errors


# Every websocket message the page receives: its page time, whether it names a widget of the sidebar or the
# Train/Stop row (a widget's id carries its key) and whether it carries a boundary frame (a live patch with a field)
WS_LOG = """(() => {
  const Base = window.WebSocket;
  window.__ws = [];
  window.WebSocket = class extends Base {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const text = e.data instanceof ArrayBuffer ? new TextDecoder('latin1').decode(e.data) : String(e.data);
        window.__ws.push({t: performance.now(), page: /pg_activation|pg_dataset|btn_pg_train|btn_pg_stop/.test(text),
                          frame: text.includes('nonlin-live-patch') && text.includes('data:image/png')});
      });
    }
  };
})()"""


def quiet(page, since: float = 0, ms: int = 600) -> None:
    """Until the server has answered a click made at page time `since` (a message after it) and then sent nothing
    for `ms`, the page's script run over (WS_LOG installed). The click's own change in the browser (a switch's
    state) comes before the server has even started its rerun: silence alone would read that gap as the end."""
    page.wait_for_function(f"(since) => {{ const last = window.__ws[window.__ws.length - 1];"
                           f" return last && last.t > since && performance.now() - last.t > {ms} && {IDLE}; }}",
                           arg=since, timeout=30_000)


def test_a_live_run_redraws_its_boundary_in_place(page, server):
    """While a run trains, its boundary is one plot patched in place (nonlin_ui.live_patch): the epoch and the
    field move on and the plot element is never replaced, so the boundary never leaves the screen. The Train
    click's own response is the live fragment's alone (its first frame comes without the sidebar and the buttons);
    the whole page follows it (Stop turns on)."""
    page.add_init_script(WS_LOG)
    page.goto(server + "/?epochs=3000&batch_size=128&seed=8")
    page.wait_for_selector(CHART, timeout=90_000)
    switched = now(page)
    page.locator(".st-key-pg_watchable_pace label").click()          # off: the run as it trains
    page.wait_for_function("() => !document.querySelector('.st-key-pg_watchable_pace input').checked")
    page.evaluate(SAMPLER)
    quiet(page, switched)                                              # the switch's rerun is over
    clicked = now(page)
    page.locator(".st-key-btn_pg_train button").click()
    page.wait_for_selector(".st-key-btn_pg_stop button:not([disabled])", timeout=TRAIN_TIMEOUT_MS)
    status_starts(page, "Done")
    seen = samples(page)
    live = [s for s in seen if s["status"].startswith("Running") and s["epoch"]]     # epoch >= 1: a boundary
    assert live and all(s["node"] == live[0]["node"] for s in live), [(s["node"], s["epoch"]) for s in live]
    assert len({s["epoch"] for s in live}) >= 3 and len({s["z"] for s in live}) >= 3, live
    first = seen.index(live[0])
    assert all(s["z"] for s in seen[first:]), "the boundary left the screen"
    messages = [m for m in page.evaluate("() => window.__ws") if m["t"] > clicked]
    first_frame = next(i for i, m in enumerate(messages) if m["frame"])
    assert not any(m["page"] for m in messages[:first_frame]), messages[:first_frame + 1]   # the live fragment's alone
    assert any(m["page"] for m in messages[first_frame:])                                 # then the whole page
    assert not real_errors(page), page.errors


def test_one_click_on_an_activation_trains_it_and_the_boundary_never_leaves(page, server):
    """One click on tanh trains it; the relu boundary stays (dimmed while tanh has none) until tanh's first frame,
    which comes from the live fragment's run alone (no sidebar, no buttons: nonlin_ui.runs.activation_click)."""
    page.add_init_script(WS_LOG)
    page.goto(server + "/?epochs=300&seed=5")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    at_last_frame(page, 300)
    page.evaluate(SAMPLER)
    page.wait_for_function("() => window.__watch.samples.length > 0")
    before = samples(page)[-1]
    relu = shown_run(page)
    quiet(page)                                                        # the run's end is drawn
    start = now(page)
    page.locator(".st-key-pg_activation button").filter(has_text=re.compile("^tanh$")).click()   # one click
    page.wait_for_function("() => location.search.includes('activation=tanh')")
    other_run_shown(page, relu)
    status_starts(page, "Done")
    at_last_frame(page, 300)
    after = [s for s in samples(page) if s["t"] >= start]
    assert all(s["z"] for s in after), [s for s in after if not s["z"]]        # never a blank chart
    new = next(i for i, s in enumerate(after) if s["z"] != before["z"] and s["opacity"] == 1)
    assert all(s["z"] == before["z"] for s in after[:new]), after[:new + 1]   # until then: the previous boundary
    dimmed = [s for s in after[:new] if s["opacity"] < 1]
    print(f"\n[watch] after the click: {new} samples of the previous boundary, {len(dimmed)} of them dimmed")
    messages = [m for m in page.evaluate("() => window.__ws") if m["t"] > start]
    first_frame = next(i for i, m in enumerate(messages) if m["frame"])
    assert not any(m["page"] for m in messages[:first_frame]), messages[:first_frame + 1]   # the live fragment's alone
    assert any(m["page"] for m in messages[first_frame:])                                 # then the whole page
    assert after[-1]["z"] != before["z"] and after[-1]["status"].startswith("Done")
    assert not real_errors(page), page.errors



def shown_epoch(sample: dict) -> int | None:
    """The epoch a sample's boundary shows: its slider label when it has one (playing), else layout.meta."""
    found = re.match(r"epoch (\d+)", sample["label"] or "")
    return int(found.group(1)) if found else sample["epoch"]


def test_the_watchable_pace_shows_a_fast_run_forming_and_off_shows_it_when_done(page, server):
    """300 epochs train in well under a second here; at the watchable pace (on by default) the page shows them
    from the recording for about 8 s: many distinct epochs, in order, the boundary still changing 6 s after the
    click. Off: the finished run is drawn when it is done, at its last epoch, and stays there."""
    page.goto(server + "/?epochs=300&seed=11")
    page.wait_for_selector(CHART, timeout=90_000)
    page.evaluate(SAMPLER)
    start = now(page)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    at_last_frame(page, 300)
    first_seen: dict[int, float] = {}
    for s in samples(page):
        if s["t"] >= start and s["z"] and shown_epoch(s) is not None:
            first_seen.setdefault(shown_epoch(s), s["t"])
    last = (max(first_seen.values()) - start) / 1000
    print(f"\n[pace] {len(first_seen)} distinct epochs shown, the last new one {last:.1f} s after the click")
    assert len(first_seen) >= 8, first_seen
    assert last >= 6, first_seen                                      # still forming 6 s after the click
    assert sorted(first_seen, key=first_seen.get) == sorted(first_seen), first_seen    # forward only

    relu = shown_run(page)
    page.locator(".st-key-pg_watchable_pace label").click()          # off
    page.wait_for_function("() => !document.querySelector('.st-key-pg_watchable_pace input').checked")
    start = now(page)
    page.locator(".st-key-pg_activation button").filter(has_text=re.compile("^tanh$")).click()   # trains at once
    page.wait_for_function("() => location.search.includes('activation=tanh')")
    other_run_shown(page, relu)
    status_starts(page, "Done")
    page.wait_for_selector(f"{CHART} .slider-group > .slider-label")
    page.wait_for_timeout(1000)                  # a window in which a replay would have moved the label
    run = [s for s in samples(page) if s["t"] >= start]
    done = next(i for i, s in enumerate(run) if s["status"].startswith("Done") and s["run"] not in (None, relu))
    labelled = [shown_epoch(s) for s in run[done:] if s["label"]]
    assert labelled and set(labelled) == {300}, run[done:]             # drawn at its end, and kept there
    assert not real_errors(page), page.errors


CURSOR = """() => Array.from(document.querySelectorAll('.st-key-curves .nonlin-cursor')).map((l) => {
  const cg = document.querySelector('.st-key-curves .js-plotly-plot'), fl = cg._fullLayout;
  const xa = fl[l.classList.contains('nonlin-cursor-0') ? 'xaxis' : 'xaxis2'];
  return {epoch: l.dataset.epoch, left: parseFloat(l.style.left), shown: l.style.display !== 'none',
          expected: xa._offset + xa.l2p(Math.max(+l.dataset.epoch, xa.range[0])) - 1};
})"""


# a hidden stale copy of the boundary's element (its slider at the last epoch), first in the page
STALE_COPY = """() => {
  const box = Array.from(document.querySelectorAll('.st-key-boundary')).find((b) => b.offsetParent !== null);
  const stale = box.cloneNode(true);
  stale.classList.add('nonlin-test-stale');
  stale.style.display = 'none';
  box.parentNode.insertBefore(stale, box);
}"""


def test_the_curves_cursor_follows_the_scrubbed_and_played_epoch_in_the_browser(page, server):
    page.goto(server + "/?epochs=400&seed=13")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-pg_watchable_pace label").click()          # the run as it trains: no replay to wait for
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    at_last_frame(page, 400)
    page.wait_for_function("() => document.querySelectorAll('.st-key-curves .nonlin-cursor').length === 2")
    assert {c["epoch"] for c in page.evaluate(CURSOR)} == {"400"}
    page.wait_for_selector(".st-key-confusion .js-plotly-plot")       # the finished page is all there
    page.evaluate(STALE_COPY)               # as Streamlit may keep one around a rerun: the cursor follows the shown
    page.locator(f"{CHART} .slider-rail-touch-rect").click(position={"x": 2, "y": 5})   # scrub to the start
    page.wait_for_function("() => Array.from(document.querySelectorAll('.st-key-curves .nonlin-cursor'))"
                           ".every((l) => l.dataset.epoch === '0')")
    page.evaluate("() => document.querySelectorAll('.nonlin-test-stale').forEach((e) => e.remove())")
    received = len(page.received)
    plotly_button(page, "4×").click()
    moved = set()
    for _ in range(300):                             # looked at every 0.1 s until it moved (a busy box plays slower)
        if len(moved) >= 3:
            break
        page.wait_for_timeout(100)
        label = page.text_content(f"{CHART} .slider-group > .slider-label")
        cursors = page.evaluate(CURSOR)
        moved |= {c["epoch"] for c in cursors}
        for c in cursors:                            # each line sits at its epoch on its panel's axis
            assert c["shown"] and abs(c["left"] - c["expected"]) < 1.5, cursors
        assert label.startswith("epoch ")
    assert len(moved) >= 3, moved                   # it followed the playing epoch
    assert len(page.received) == received, "the server sent messages while the cursor moved"
    plotly_button(page, "❚❚ Pause").click()
    shoot(page, "watch_cursor_1400x1000.png")
    assert not real_errors(page), page.errors


def test_the_boundary_stays_through_a_chain_of_replacements(page, server):
    """nonlin_ui.bridge, driven the way a loaded server's page behaves: the drawn plot is purged and its element
    replaced in one task (nothing left to copy then), the successor is replaced before it is ever drawn, then hidden,
    then a third appears. The boundary (the bridge's copy) is on screen after each step."""
    page.goto(server + "/?epochs=100")
    page.wait_for_selector(CHART, timeout=90_000)
    page.wait_for_function(f"() => {{ const gd = {SHOWN}; return gd && gd._fullLayout; }}")
    drawn = now(page)
    page.wait_for_function(f"(t) => window.__nonlinBridge && window.__nonlinBridge.taken > t && {IDLE}",
                           arg=drawn)                   # the page's run is over; the bridge has copied the drawn plot
    seen = page.evaluate("""async () => {
      const shown = () => { const gd = """ + SHOWN + """; return !!(gd && gd.querySelector('.main-svg .scatterlayer')); };
      const frames = (n) => new Promise((r) => { let k = 0;
        const f = () => (++k >= n ? r() : requestAnimationFrame(f)); requestAnimationFrame(f); });
      const box = Array.from(document.querySelectorAll('.st-key-boundary')).find((b) => b.offsetParent !== null);
      const gd = box.querySelector('.js-plotly-plot'), parent = box.parentNode;
      const next = () => { const b = document.createElement('div'); b.className = 'st-key-boundary';
        b.style.height = '300px'; b.innerHTML = '<div class="js-plotly-plot"></div>'; return b; };
      const out = {};
      const first = next();
      gd.querySelector('.plot-container').remove(); delete gd._fullLayout;      // purged and replaced at once
      parent.replaceChild(first, box);
      await frames(3); out.purged = shown();
      const second = next(); parent.replaceChild(second, first);                   // replaced before it was drawn
      await frames(3); out.replaced = shown();
      second.style.display = 'none';                                               // hidden
      await frames(3); out.hidden = shown();
      parent.appendChild(next());                                                  // a third
      await frames(3); out.third = shown();
      return out;
    }""")
    assert seen == {"purged": True, "replaced": True, "hidden": True, "third": True}, seen


def test_a_patched_chart_redrawn_from_streamlits_copy_gets_its_patch_again(page, server):
    """Streamlit redraws a resized chart from its own copy of the figure (the skeleton), which carries none of the
    page's patches: the patch goes on again (nonlin_ui.live_patch). Here the data alone, whose patch hides the
    field: undone as that redraw would (the field shown, no patch's seq in layout.meta), it is hidden again."""
    page.goto(server + "/?epochs=100&seed=12")
    boundary = f"(() => {{ const gd = {SHOWN}; return gd && gd.layout && gd.layout.meta ? gd : null; }})()"
    image = "(gd.layout.images || []).findIndex((im) => im.name === 'boundary')"
    page.wait_for_function(f"() => {{ const gd = {boundary}; return gd && gd.layout.meta.seq !== undefined"
                           f" && gd.layout.images[{image}].opacity === 0; }}", timeout=90_000)
    page.evaluate(f"() => {{ const gd = {boundary}; const update = {{meta: {{live: gd.layout.meta.live}}}};"
                  f" update[`images[${{{image}}}].opacity`] = 1; window.Plotly.relayout(gd, update); }}")
    page.wait_for_function(f"() => {{ const gd = {boundary}; return gd.layout.meta.seq !== undefined"
                           f" && gd.layout.images[{image}].opacity === 0; }}", timeout=5_000)


# a click on an activation pill, and what is on screen in the click's own turn: the boundary's field, and whether it
# is a chart whose epoch slider works (not a picture of one). A chart's field: the figure's (plotly puts a new image
# in the page a few milliseconds later, once the browser has decoded it)
CLICK_AND_LOOK = """(name) => {
  const b = Array.from(document.querySelectorAll('.st-key-pg_activation button')).find((e) => e.innerText.trim() === name);
  b.click();
  const preview = document.querySelector('.nonlin-preview');
  const el = preview && preview.offsetParent !== null ? preview : """ + SHOWN + """;
  const chart = !!el && el.classList.contains('js-plotly-plot');
  const image = el ? el.querySelector('.imagelayer image') : null;
  const field = chart ? el.layout.images.find((im) => im.name === 'boundary').source
                      : image ? image.getAttribute('href') : null;
  return {field, player: chart && !!el.layout.sliders && el.layout.sliders.length > 0};
}"""
FIELD = f"() => {{ const gd = {SHOWN}; const i = gd && gd.querySelector('.imagelayer image');" \
        " return i ? i.getAttribute('href') : null; }"


def test_a_run_the_page_has_shown_comes_back_in_the_clicks_own_turn(page, server):
    """relu, then tanh (one click): a click on relu draws relu's finished time-lapse at once, in the click's own
    turn (the page keeps the figure: the slider and Play work), and keeps it until the server's answer, relu's own
    time-lapse. elu, never shown: the chart stays as it was until the server's answer.
    All of it on one chart: the boundary's plot element is the same from relu's end to relu's return."""
    page.goto(server + "/?epochs=300&seed=21")
    page.wait_for_selector(CHART, timeout=90_000)
    page.locator(".st-key-btn_pg_train button").click()
    status_starts(page, "Done")
    at_last_frame(page, 300)
    relu = page.evaluate(FIELD)
    page.evaluate(f"() => {{ {SHOWN}.__nonlinTestMark = true; }}")     # the boundary's chart, on screen now
    page.locator(".st-key-pg_activation button").filter(has_text=re.compile("^tanh$")).click()
    page.wait_for_function("() => location.search.includes('activation=tanh')")
    page.wait_for_function(f"(old) => {{ const gd = {SHOWN}; const i = gd && gd.querySelector('.imagelayer image');"
                           " return i && i.getAttribute('href') !== old && gd.layout && gd.layout.meta"
                           " && gd.layout.meta.run; }", arg=relu, timeout=TRAIN_TIMEOUT_MS)
    status_starts(page, "Done")
    at_last_frame(page, 300)
    tanh = page.evaluate(FIELD)
    assert tanh != relu

    shown = page.evaluate(CLICK_AND_LOOK, "relu")
    assert shown == {"field": relu, "player": True}, "the click's own turn did not draw relu's time-lapse"
    page.wait_for_function(f"(old) => ({FIELD})() === old", arg=relu, timeout=1_000)     # and its image, drawn
    page.wait_for_function("() => location.search.includes('activation=') === false")   # relu: the default
    page.wait_for_function("() => !document.querySelector('.nonlin-preview')")  # gone once relu's chart is drawn
    assert page.evaluate(FIELD) == relu
    status_starts(page, "Done")
    # one chart for the page's life: relu's time-lapse, tanh's live frames and time-lapse, relu's again, on it
    assert page.evaluate(f"() => {SHOWN}.__nonlinTestMark === true"), "the boundary's chart was replaced"

    # a run this page never showed: the chart stays as it was until the server answers
    assert page.evaluate(CLICK_AND_LOOK, "elu") == {"field": relu, "player": True}
    page.wait_for_function("() => location.search.includes('activation=elu')")
    assert not real_errors(page), page.errors
