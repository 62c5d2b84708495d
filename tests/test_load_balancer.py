"""deploy/nginx.conf, as compose runs it, in front of two real servers on 127.0.0.1 (Debian's nginx, the same
nginx.conf; only upstream.conf and listen.conf name the local servers): a browser's cookie keeps it on one
replica, browsers without one spread over both, JavaScript and CSS arrive gzipped, and the websocket of a
session is upgraded through it (a page's script runs)."""
from __future__ import annotations

import asyncio
import gzip
import http.client
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import streamlit

from bench.st_client import Tab
from tests.support.server import ROOT, StreamlitServer, free_port

pytestmark = pytest.mark.slow

DEPLOY = ROOT / "deploy"
ARTIFACTS = ROOT / "artifacts"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def request(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        headers: dict[str, str] = {}
        for k, v in resp.getheaders():                    # several Set-Cookie lines: all of them, joined
            headers[k.lower()] = f"{headers[k.lower()]}\n{v}" if k.lower() in headers else v
        return resp.status, headers, resp.read()
    finally:
        conn.close()


def nginx_prefix(folder: Path, port: int, upstreams: list[int]) -> Path:
    """deploy/nginx.conf unchanged, beside an upstream.conf of the local servers (deploy's, its server line
    replaced) and a listen.conf that also names the replica that answered (X-Upstream)."""
    shutil.copy(DEPLOY / "nginx.conf", folder / "nginx.conf")
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstreams)
    upstream = re.sub(r"^\s*server app:8501.*\n", servers, (DEPLOY / "upstream.conf").read_text(), flags=re.M)
    assert servers in upstream and "hash $route_key consistent;" in upstream
    (folder / "upstream.conf").write_text(upstream)
    (folder / "listen.conf").write_text(f"listen 127.0.0.1:{port};\nadd_header X-Upstream $upstream_addr always;\n")
    return folder / "nginx.conf"


@pytest.fixture
def balanced(tmp_path):
    """Two servers on one store behind nginx; yields (nginx port, [server ports])."""
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed (`make nginx`: apt-get install nginx-light)")
    ARTIFACTS.mkdir(exist_ok=True)
    store = tmp_path / "runs.sqlite3"
    servers = [StreamlitServer(store, ARTIFACTS / f"lb-{n}-server.log") for n in "ab"]
    port = free_port()
    while port in {s.port for s in servers}:     # their ports are picked, not bound yet: free_port may repeat one
        port = free_port()
    conf = nginx_prefix(tmp_path, port, [s.port for s in servers])
    argv = [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", f"pid {tmp_path}/nginx.pid; daemon off;"]
    checked = subprocess.run([*argv[:-2], "-g", f"pid {tmp_path}/nginx.pid;", "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = None
    try:
        for s in servers:
            s.start(timeout=120)
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(ARTIFACTS / "lb-nginx.log", "w"))
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(port, "/_stcore/health")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)                               # polling the port until nginx answers
        yield port, [s.port for s in servers]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        for s in servers:
            s.stop()


def test_sticky_by_cookie_spread_without_gzip_for_scripts_and_the_socket_upgraded(balanced):
    port, upstreams = balanced
    # a new browser gets a route cookie; with it, every request goes to the same replica and no new cookie
    status, headers, page = request(port, "/")
    (cookie,) = [c.split(";")[0] for c in headers["set-cookie"].splitlines() if c.startswith("nonlin_route=")]
    assert status == 200
    first = headers["x-upstream"]
    for path in ("/", "/_stcore/health", "/_stcore/host-config") * 4:
        _, again, _ = request(port, path, {"Cookie": cookie})
        assert again["x-upstream"] == first and "nonlin_route" not in again.get("set-cookie", "")
    # browsers without a cookie spread over both replicas (2 × 0.5^24 that 24 land on one)
    seen = {request(port, "/_stcore/health")[1]["x-upstream"] for _ in range(24)}
    assert seen == {f"127.0.0.1:{p}" for p in upstreams}

    # the page's scripts and styles, and the largest script (Plotly's chunk, loaded with the first chart):
    # gzipped through nginx (all but the tiny ones, under gzip_min_length), plain from the server itself
    assets = re.findall(r'(?:src|href)="\.?/?(static/[^"]+\.(?:js|css))"', page.decode())
    static = Path(streamlit.__file__).parent / "static"
    largest = max(static.glob("static/js/*.js"), key=lambda p: p.stat().st_size).relative_to(static).as_posix()
    assert assets and largest not in assets, page[:500]
    raw = zipped = 0
    for asset in [*assets, largest]:
        _, plain_headers, plain = request(upstreams[0], f"/{asset}", {"Accept-Encoding": "identity"})
        _, gz_headers, body = request(port, f"/{asset}", {"Accept-Encoding": "gzip", "Cookie": cookie})
        assert "content-encoding" not in plain_headers
        if len(plain) < 1024:
            assert body == plain
            continue
        assert gz_headers.get("content-encoding") == "gzip", asset
        assert gzip.decompress(body) == plain
        raw, zipped = raw + len(plain), zipped + len(body)
    print(f"\n[lb] the first page's scripts and styles and {largest}: {raw / 1e6:.2f} MB plain, "
          f"{zipped / 1e6:.2f} MB gzipped ({zipped / raw:.0%})")
    assert zipped < 0.4 * raw

    # a session's websocket through the balancer: the app's script runs and finishes
    async def one_session() -> list[float]:
        tab = await Tab.open(f"http://127.0.0.1:{port}", "", timeout=120)
        try:
            return await tab.wait_for(lambda: tab.script_s["full"], timeout=120)
        finally:
            await tab.close()

    assert asyncio.run(one_session())
