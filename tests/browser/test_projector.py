"""Real browser at 1280×720: a ?present=1 link shows the boundary, curves and status without scrolling, with all
text enlarged; a teacher's &hide= link draws no control for the hidden settings. Screenshot in artifacts/."""
from __future__ import annotations

import pytest

from tests.support.server import ROOT

pytestmark = pytest.mark.browser

VIEWPORT = (1280, 720)                                       # the page fixture (conftest)
TRAIN_TIMEOUT_MS = 120_000
SIZE = "(sel) => parseFloat(getComputedStyle(document.querySelector(sel)).fontSize)"


def inside(box: dict | None, width: int, height: int) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width and \
        box["y"] + box["height"] <= height


def test_present_link_fits_boundary_curves_and_status_in_1280x720_with_text_enlarged(server, page):
    page.goto(f"{server}/?present=1&hide=optimizer,lr,batch_size&lr=0.3", timeout=60_000)
    page.get_by_role("button", name="Train", exact=True).click(timeout=90_000)
    page.get_by_text("Done —").wait_for(timeout=TRAIN_TIMEOUT_MS)
    # the visible plots: the finished run's figures replace the live ones (for a moment both plots sit in an
    # element), and Streamlit may keep a hidden copy of an element (display: none) around the page's timer ticks
    boundary = page.locator(".st-key-boundary .js-plotly-plot:visible").first
    curves = page.locator(".st-key-curves .js-plotly-plot:visible").first
    page.wait_for_function("() => ['boundary', 'curves'].every((k) => Array.from(document.querySelectorAll("
                           "`.st-key-${k} .js-plotly-plot`)).filter((g) => g.offsetParent !== null).length === 1)",
                           timeout=30_000)
    boundary.wait_for(timeout=30_000)
    boundary.locator(".slider-group").first.wait_for(timeout=30_000)   # the time-lapse laid out, its player drawn
    page.screenshot(path=str(ROOT / "artifacts" / "projector-1280x720.png"))
    w, h = VIEWPORT
    assert page.evaluate("() => window.scrollY") == 0
    for name, box in (("boundary", boundary.bounding_box()), ("curves", curves.bounding_box()),
                      ("status", page.locator(".st-key-run_status").bounding_box())):
        assert inside(box, w, h), f"{name} chart is not inside the {w}×{h} viewport: {box}"
    assert page.evaluate(SIZE, "html") >= 20
    assert page.evaluate(SIZE, '[data-testid="stSidebar"] [data-testid="stWidgetLabel"] p') >= 19
    assert page.evaluate(SIZE, '.st-key-run_status [data-testid="stMarkdownContainer"] p') >= 19
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("Dataset", exact=True).count() == 1
    for hidden in ("Optimizer", "Learning rate", "Batch size"):
        assert sidebar.get_by_text(hidden, exact=True).count() == 0, hidden
    assert "lr = 0.3" in sidebar.inner_text()
    assert "present=1" in page.url and "hide=" in page.url
    assert not page.errors, page.errors


def test_without_present_text_keeps_its_size_and_the_toggle_turns_projector_mode_on(server, page):
    page.goto(server, timeout=60_000)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=90_000)
    assert page.evaluate(SIZE, "html") == 16
    page.locator('[data-testid="stSidebar"]').get_by_text("Projector mode").click()
    page.wait_for_function("() => parseFloat(getComputedStyle(document.documentElement).fontSize) >= 20",
                           timeout=30_000)
    page.wait_for_url("**present=1**", timeout=30_000)
