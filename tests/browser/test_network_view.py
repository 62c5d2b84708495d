"""The network diagram in chromium: every layer's thumbnail strip is drawn as an image, it follows the run while
it trains (epoch in its title), and the page logs no errors. NONLIN_SHOTS=1 saves a screenshot."""
from __future__ import annotations

import os

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
NETWORK = ".st-key-network .js-plotly-plot"


def test_the_diagram_draws_its_thumbnails_and_follows_the_run(page, server):
    page.goto(server + "/?dataset=moons&hidden_layers=16,16,16,16,16,16,16,16&activation=relu&epochs=1500"
                       "&optimizer=adam&lr=0.01")
    page.wait_for_selector(NETWORK, timeout=90_000)
    title = (f"() => {{ const gd = document.querySelector('{NETWORK}'); "
             "return gd && gd.layout && gd.layout.title ? gd.layout.title.text : ''; }")     # null while re-drawn
    images = "() => document.querySelectorAll('.st-key-network .js-plotly-plot .layer-above image').length"
    page.wait_for_function(f"() => ({images})() === 10", timeout=30_000)     # inputs, 8 layers, output
    assert "untrained" in page.evaluate(f"({title})()")
    page.locator(".st-key-btn_pg_train button").click()
    page.wait_for_function(f"() => {{ const m = ({title})().match(/epoch (\\d+)/); "
                           "return m && +m[1] > 0 && +m[1] < 1500; }", timeout=90_000)   # a live frame
    page.wait_for_function("() => { const b = document.querySelector('.st-key-run_status'); "
                           "return b && b.innerText.trim().startsWith('Done'); }", timeout=180_000)
    page.wait_for_function(f"() => ({title})().includes('epoch 1500')", timeout=30_000)
    # the finished run's diagram replaces the live one: for a moment both plots are in the element
    page.wait_for_function(f"() => document.querySelectorAll('{NETWORK}').length === 1", timeout=30_000)
    assert page.evaluate(images) == 10
    sources = page.evaluate(f"() => document.querySelector('{NETWORK}').layout.images.map(i => i.source.length)")
    assert len(sources) == 10 and all(n > 100 for n in sources)
    if os.environ.get("NONLIN_SHOTS"):
        page.locator(".st-key-network").screenshot(path=str(ARTIFACTS / "network_diagram.png"))
    assert not page.errors, page.errors
