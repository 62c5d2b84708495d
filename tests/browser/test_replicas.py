"""Two real servers (`nonlin ui`) on 127.0.0.1 sharing one PostgreSQL run store, as replicas behind a load
balancer are: a run trained through one is served finished by the other, and kill -9 of the first while it
trains loses no finished run; no pid of the dead server is ever checked by the other (its lease runs out).

EXECUTORS names, per executor, what becomes of the run the killed replica was training. With the threads
executor it dies with its server: the other lists it *interrupted*. With Ray (both servers on one local Ray
cluster, NONLIN_EXECUTOR=ray and RAY_ADDRESS) it trains in an actor that outlives its server: the actor adopts
the job, finishes it and stores it, and the other replica lists it *done* and serves it."""
from __future__ import annotations

import time

import pytest

from nonlin_core.config import RunConfig
from nonlin_core.store import INTERRUPTED_MESSAGE, open_store
from nonlin_ui.run_list import describe
from tests.support.server import ROOT, StreamlitServer
from tests.test_crash_restart import new_page, open_runs_page, playground_url, runs_table, wait_status

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "artifacts"
LEASE_SECONDS = 8                 # short, so the surviving replica sees the dead one's run within the test
QUICK = RunConfig(dataset="moons", noise=0.2, batch_size=32, epochs=200, seed=21)       # ~1 s
LONG = RunConfig(dataset="moons", noise=0.2, batch_size=8, epochs=1500, seed=22)        # ~15-35 s here
EXECUTORS = {"threads": "interrupted", "ray": "done"}    # executor -> the killed replica's training run, as seen
RAY_GCS_PORT = 6391               # test_executors' cluster is on 6390


def statuses(url: str) -> dict[str, str]:
    store = open_store(url)
    try:
        return {r.key: r.status for r in store.list_runs()}
    finally:
        store.close()


@pytest.fixture(params=["threads", pytest.param("ray", marks=pytest.mark.slow)])
def executor(request):
    """The executor's name and the servers' environment for it (Ray: a local cluster for this test)."""
    if request.param == "threads":
        yield "threads", {}
        return
    pytest.importorskip("ray")
    from tests.support.ray_cluster import ray_cluster
    with ray_cluster(gcs=RAY_GCS_PORT, cpus=2) as address:          # one worker per server, one CPU each
        yield "ray", {"NONLIN_EXECUTOR": "ray", "RAY_ADDRESS": address, "NONLIN_WORKERS": "1"}


@pytest.fixture
def replicas(pg_url, executor):
    """Servers A and B on one PostgreSQL store (each its own log in artifacts/)."""
    name, extra = executor
    env = {"NONLIN_LEASE_SECONDS": str(LEASE_SECONDS), **extra}
    servers = [StreamlitServer(pg_url, ARTIFACTS / f"replica-{name}-{s}-server.log", env=env) for s in "ab"]
    for s in servers:
        s.log.unlink(missing_ok=True)
    try:
        for s in servers:
            s.start(timeout=120)
        yield servers
    finally:
        for s in servers:
            s.stop()


def test_two_replicas_share_runs_and_survive_kill_9_of_one(replicas, browser, pg_url, executor):
    a, b = replicas
    executor = executor[0]
    # 1. a run trained through A is served finished by B, from the store
    on_a = new_page(browser)
    on_a.goto(playground_url(a, QUICK))
    wait_status(on_a, "Not trained yet", timeout=90_000)
    on_a.locator(".st-key-btn_pg_train button").click()
    assert wait_status(on_a, "Done").startswith(f"Done — {QUICK.epochs} epochs in ")
    on_b = new_page(browser)
    on_b.goto(playground_url(b, QUICK))
    text = wait_status(on_b, "Done", timeout=90_000)
    assert text.startswith(f"Done — {QUICK.epochs} epochs from the run store"), text
    on_b.wait_for_selector(".st-key-confusion .js-plotly-plot", timeout=30_000)

    # 2. A trains a long run and is killed (-9) in the middle of it
    on_a.goto(playground_url(a, LONG))
    wait_status(on_a, "Not trained yet")
    on_a.locator(".st-key-btn_pg_train button").click()
    wait_status(on_a, "Running")
    on_a.wait_for_function("() => { const gd = Array.from(document.querySelectorAll('.st-key-boundary"
                           " .js-plotly-plot')).find((e) => e.offsetParent !== null);"     # not a hidden copy
                           " return gd && gd.layout.meta && gd.layout.meta.epoch >= 1; }", timeout=30_000)
    assert statuses(pg_url) == {QUICK.key: "done", LONG.key: "running"}
    a.kill()
    on_a.context.close()
    killed_at = time.monotonic()

    # 3. B, which was up all along, lists the finished run as done and the killed one as the executor leaves it
    expected = {describe(QUICK): "done", describe(LONG): EXECUTORS[executor]}
    runs = open_runs_page(new_page(browser), b)
    table = runs_table(runs)
    while table != expected and time.monotonic() - killed_at < LEASE_SECONDS * 4 + 180:
        open_runs_page(runs, b)             # a user looking again (not a reload: the deep link's 404 probe)
        runs.wait_for_selector("[data-testid='stDataFrame']", timeout=60_000)
        table = runs_table(runs)
    assert table == expected, table
    assert statuses(pg_url) == {QUICK.key: "done", LONG.key: EXECUTORS[executor]}
    errors = [e for p in (on_b, runs) for e in p.errors]
    store = open_store(pg_url)
    try:
        finished, killed = store.get(QUICK.key), store.get(LONG.key)
    finally:
        store.close()
    assert finished.state_dict is not None and len(finished.history["epoch"]) == QUICK.epochs
    if EXECUTORS[executor] == "interrupted":
        assert killed.message == INTERRUPTED_MESSAGE
    else:                                               # finished on the cluster after its server died
        assert killed.state_dict is not None and len(killed.history["epoch"]) == LONG.epochs
        served = new_page(browser)
        served.goto(playground_url(b, LONG))
        text = wait_status(served, "Done", timeout=90_000)
        assert text.startswith(f"Done — {LONG.epochs} epochs from the run store"), text
        errors += served.errors
    assert not errors, errors
