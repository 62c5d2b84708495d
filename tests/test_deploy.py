"""deploy/: the compose file wires what the README's "Hosting a large class" says (replicas on one PostgreSQL
store behind the balancer, a Ray head and a GPU worker), and nginx accepts deploy/nginx.conf (nginx -t)."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from nonlin_core.store import store_scheme
from tests.test_load_balancer import DEPLOY, NGINX, nginx_prefix

COMPOSE = (DEPLOY / "compose.yaml").read_text()


def service(name: str) -> str:
    """The text of one service of compose.yaml (from its name to the next top-level service)."""
    match = re.search(rf"^  {re.escape(name)}:\n((?:    .*\n|\s*\n)*)", COMPOSE, re.M)
    assert match, name
    return match.group(1)


def test_compose_has_replicas_on_one_postgres_store_a_balancer_ray_and_a_gpu_worker():
    store = re.search(r"^  NONLIN_STORE: (.+?)(?:\s+#.*)?$", COMPOSE, re.M).group(1)
    assert store_scheme(store) == "postgresql" and "@db:5432/" in store
    assert re.search(r"^  RAY_ADDRESS: ray-head:6379$", COMPOSE, re.M)
    app = service("app")
    assert "environment: *nonlin-env" in app and "replicas:" in app and "ports:" not in app   # via the balancer only
    assert re.search(r"db:\n\s+condition: service_healthy", app)
    lb = service("lb")
    mounts = dict(re.findall(r"- \./(\S+):(/etc/nginx/\S+):ro", lb))
    assert set(mounts.values()) == {"/etc/nginx/nginx.conf", "/etc/nginx/upstream.conf", "/etc/nginx/listen.conf"}
    assert all((DEPLOY / source).is_file() for source in mounts)
    head, gpu = service("ray-head"), service("ray-gpu")
    assert '"--head"' in head and "BASE: nonlin:gpu" in gpu and "--num-gpus=1" in gpu
    assert "driver: nvidia" in gpu and "capabilities: [gpu]" in gpu
    assert (DEPLOY / re.search(r"dockerfile: (\S+)", gpu).group(1)).is_file()


def test_nginx_accepts_the_config(tmp_path):
    if not os.path.exists(NGINX):
        pytest.skip("nginx is not installed (`make nginx`)")
    conf = nginx_prefix(tmp_path, 8669, [8667, 8668])
    out = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(conf), "-g", f"pid {tmp_path}/nginx.pid;"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "syntax is ok" in out.stderr
