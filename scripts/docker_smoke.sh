#!/usr/bin/env bash
# Docker smoke test without Docker or a registry: build the Dockerfile as it is with podman against a local
# stand-in for python:3.11-slim, run the image, wait for its HEALTHCHECK, load the page in headless chromium.
# Root, no stdin; installs what it lacks (apt). Cached between runs: the stand-in's rootfs tarball in
# $NONLIN_SMOKE_CACHE (default /var/tmp/nonlin-podman). Screenshot: artifacts/docker_smoke.png.
# The Dockerfile is built as it is, its default (CPU) variant; TORCH_CPU_INDEX is set empty because this machine
# reaches no index but its own pip config, whose find-links offer the same torch 2.13.0+cpu wheel.
# Env: NONLIN_SMOKE_KEEP=1 keeps the podman storage for a look afterwards,
# NONLIN_SMOKE_STORAGE_DRIVER (default overlay; vfs where overlay cannot mount), NONLIN_DEBIAN_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${NONLIN_SMOKE_CACHE:-/var/tmp/nonlin-podman}
BASE=docker.io/library/python:3.11-slim
BASE_TAR=$CACHE/python-3.11-slim-standin-v1.tar     # bump v1 when the recipe below changes
MIRROR=${NONLIN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=localhost/nonlin:smoke
NAME=nonlin-smoke-$$
T0=$(date +%s)

log() { printf '[docker-smoke %3ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root: podman builds and runs the image as root here"
missing=()
for tool in podman buildah runc debootstrap chromium; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
fi

WORK=$(mktemp -d /var/tmp/nonlin-smoke.XXXXXX)
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
pm() { podman --root "$WORK/root" --runroot "$WORK/runroot" --storage-driver "${NONLIN_SMOKE_STORAGE_DRIVER:-overlay}" "$@" </dev/null; }

cleanup() {
  local rc=$?
  trap - EXIT
  if [ "$rc" != 0 ] && pm container exists "$NAME" 2>/dev/null; then
    log "container log (last 40 lines):"
    pm logs --tail 40 "$NAME" 2>&1 | sed 's/^/    /' || true
  fi
  if [ "${NONLIN_SMOKE_KEEP:-0}" = 1 ]; then
    log "kept: podman --root $WORK/root --runroot $WORK/runroot (CONTAINERS_CONF=$CONTAINERS_CONF)"
  else
    log "cleaning up"
    pm rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
    pm rmi -a -f >/dev/null 2>&1 || true
    grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$WORK"
  fi
  [ "$rc" = 0 ] && log "done"
  exit "$rc"
}
trap cleanup EXIT

# ---- the stand-in base: Debian bookworm's Python 3.11 as a venv at /usr/local, like python:3.11-slim's layout
if [ ! -s "$BASE_TAR" ]; then
  log "making the python:3.11-slim stand-in (debootstrap bookworm minbase, ~2 min; cached in $CACHE)"
  rootfs=$WORK/rootfs
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; die "debootstrap failed"; }
  chroot "$rootfs" /usr/bin/python3 -m venv /usr/local      # python, pip at /usr/local/bin; pip installs there
  chroot "$rootfs" /usr/local/bin/python -c "import ensurepip, pip, venv, sqlite3, ssl"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/local/bin/[Aa]ctivate*
  mkdir -p "$CACHE"
  tar -C "$rootfs" -cf "$BASE_TAR.part" . && mv "$BASE_TAR.part" "$BASE_TAR"
  rm -rf "$rootfs"
fi
pm import --quiet \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
  "$BASE_TAR" "$BASE" >/dev/null
log "base image ready: $BASE (local stand-in)"

# ---- pip inside the build sees what the host's pip sees: its config, CA bundle and local wheel folders
mapfile -t volumes < <(python3 - "$WORK/pip.conf" <<'EOF'
import os, re, subprocess, sys
out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
settings = dict(m.groups() for m in re.finditer(r"^[^.\n]*\.([\w-]+)='(.*)'$", out, re.M))
with open(sys.argv[1], "w") as f:
    f.write("[global]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
print(f"--volume={sys.argv[1]}:/etc/pip.conf:ro")
paths = {re.sub(r"^file://", "", word).rstrip("/") for v in settings.values() for word in v.split()}
paths = {os.path.dirname(p) if p.endswith("/simple") else p for p in paths}   # index pages link to ../../files/
for path in sorted(p for p in paths if p.startswith("/") and os.path.exists(p)):
    print(f"--volume={path}:{path}:ro")
EOF
)

log "building the image (podman build --format docker, pip install -r requirements.txt)"
build_start=$(date +%s)
pm build --pull=never --format docker --network host --build-arg TORCH_CPU_INDEX= \
  "${volumes[@]}" -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; die "podman build failed"; }
grep -E "^torch " "$WORK/build.log" | sed 's/^/    /' || true
size=$(pm image inspect --format '{{.Size}}' "$IMAGE")
log "image built: $IMAGE, $((size / 1000000)) MB, in $(($(date +%s) - build_start)) s"

user=$(pm image inspect --format '{{.Config.User}}' "$IMAGE")
case "${user%%:*}" in ""|0|root) die "the image runs as root (USER '$user')" ;; esac
[ "$(pm image inspect --format '{{if .Config.Healthcheck}}yes{{end}}' "$IMAGE")" = yes ] || die "no HEALTHCHECK in the image"

# ---- run on a free loopback port; the HEALTHCHECK's own command decides "healthy"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pm run -d --name "$NAME" -p "127.0.0.1:$port:8501" "$IMAGE" >/dev/null 2>"$WORK/run.err" \
  || { cat "$WORK/run.err"; die "podman run failed"; }    # (its stderr: no systemd here for healthcheck timers)
log "container started: $NAME on 127.0.0.1:$port"
for _ in $(seq 90); do
  [ "$(pm inspect --format '{{.State.Running}}' "$NAME")" = true ] || die "the container exited"
  pm healthcheck run "$NAME" >/dev/null 2>&1 && break
  sleep 2
done
pm healthcheck run "$NAME" >/dev/null 2>&1 || die "HEALTHCHECK still failing after 180 s"
body=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/_stcore/health', timeout=5).read().decode())")
[ "$body" = ok ] || die "/_stcore/health from the host said '$body'"
log "container healthy: HEALTHCHECK passes, /_stcore/health = ok on the published port"

# ---- a real browser: the app's page must render (the title set by app.py, the Playground, no exception box).
# Playwright waits in real time: a fresh server's first script run imports torch and warms the engine.
PY=${PYTHON:-.venv/bin/python}
mkdir -p artifacts && rm -f artifacts/docker_smoke.png
title=$("$PY" - "http://127.0.0.1:$port/" "$PWD/artifacts/docker_smoke.png" <<'PYEOF'
import sys
from playwright.sync_api import sync_playwright
url, shot = sys.argv[1], sys.argv[2]
args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
with sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, timeout=120_000)
    page.wait_for_function("() => document.title.includes('nonlin') && document.querySelector('[data-testid=stApp]')"
                           " && document.body.innerText.includes('Playground')", timeout=180_000)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    if page.query_selector("[data-testid=stException]"):
        sys.exit("the page shows a Python exception: " + page.inner_text("[data-testid=stException]")[:400])
    if errors:
        sys.exit("page errors: " + "; ".join(errors))
    page.screenshot(path=shot)
    print(page.title())
    browser.close()
PYEOF
) || die "chromium did not see the app render (title, Playground, a chart) or saw an error"
log "page rendered in chromium: title '$title'"
pm exec "$NAME" python -c "import os, torch; print('    uid', os.getuid(), '| torch', torch.__version__, \
  '| cuda', torch.cuda.is_available(), '| /data:', ' '.join(sorted(os.listdir('/data'))))"
pm exec "$NAME" test -s /data/runs.sqlite3 || die "no run store in /data (is /data writable by the app's user?)"
log "screenshot: artifacts/docker_smoke.png"

log "docker smoke test passed in $(($(date +%s) - T0)) s"
