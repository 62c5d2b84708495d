# nonlin: the Streamlit playground in one image. Two variants of the same Dockerfile:
#   docker build -t nonlin .                              CPU image (default): PyTorch's CPU-only wheel
#   docker build --build-arg VARIANT=gpu -t nonlin:gpu .  GPU image: PyPI's CUDA wheel and NVIDIA libraries
#   docker run -p 8501:8501 -v nonlin-data:/data nonlin               -> http://localhost:8501
#   docker run --gpus all -p 8501:8501 -v nonlin-data:/data nonlin:gpu
# Both install requirements.txt, the tested lock; the core picks cuda, then mps, then cpu at run time.
# ---- build: the tested lock into a venv, slimmed; only /opt/venv reaches the image
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# binutils: strip, for the symbol tables of the shared libraries (libtorch_cpu.so alone carries ~90 MB);
# a tool of this stage only, never in the image, so its version is Debian's of the day
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /tmp
COPY requirements.txt /tmp/requirements.txt

# cpu: torch==2.13.0 resolves to 2.13.0+cpu from PyTorch's CPU index (a local version sorts above PyPI's CUDA
# build). TORCH_CPU_INDEX may name a mirror, or be empty where pip's own config already offers the CPU wheel.
# The build fails when the variant's torch is not what it asked for. One RUN, so nothing it removes reaches the
# image: test suites; torch's C++ test programs and the test binaries in torch/bin (torch_shm_manager stays:
# multiprocessing needs it); C++/Cython headers and sources (the image has no compiler, so neither torch.compile
# nor extensions could use them); libtorch_cpu's symbol table (only that library: the wheels' patched *.libs
# break when stripped; the import check below would see it); pip itself.
ARG VARIANT=cpu
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
# hadolint ignore=SC2086
RUN case "$VARIANT" in \
      cpu) extra="${TORCH_CPU_INDEX:+--extra-index-url $TORCH_CPU_INDEX}" ;; \
      gpu) extra="" ;; \
      *) echo "VARIANT must be cpu or gpu, not '$VARIANT'" >&2; exit 1 ;; \
    esac \
    && /opt/venv/bin/pip install --no-cache-dir --no-compile $extra -r /tmp/requirements.txt \
    && /opt/venv/bin/python -c "import sys, torch; cuda = torch.version.cuda; print('torch', torch.__version__, 'cuda', cuda); \
sys.exit(('$VARIANT' == 'cpu') == (cuda is not None))" \
    && site=$(/opt/venv/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
    && rm -rf "$site/torch/test" "$site/torch/include" "$site/pyarrow/include" "$site/pyarrow/src" \
    && find "$site/torch/bin" -type f ! -name torch_shm_manager -delete \
    && find "$site" -depth -type d -name tests -exec rm -rf {} + \
    && find "$site/pyarrow" \( -name "*.pyx" -o -name "*.pxd" -o -name "*.pxi" \) -delete \
    && strip --strip-unneeded "$site/torch/lib/libtorch_cpu.so"

# nonlin itself, installed as a package (the wheel carries app.py, pages/ and .streamlit/ as nonlin_app)
COPY pyproject.toml README.md LICENSE app.py /tmp/src/
COPY .streamlit/ /tmp/src/.streamlit/
COPY pages/ /tmp/src/pages/
COPY nonlin_core/ /tmp/src/nonlin_core/
COPY nonlin_ui/ /tmp/src/nonlin_ui/
# bytecode only for what the server imports (the rest compiles in memory if ever used): ~90 MB instead of ~200
RUN /opt/venv/bin/pip install --no-cache-dir --no-compile --no-deps /tmp/src \
    && /opt/venv/bin/pip uninstall -y -q pip \
    && /opt/venv/bin/python -c "import importlib, pkgutil, nonlin_core, nonlin_ui, torch; \
[importlib.import_module(m.name) for p in (nonlin_core, nonlin_ui) for m in pkgutil.iter_modules(p.__path__, p.__name__ + '.') if m.name[-8:] != '__main__']; \
import streamlit.web.bootstrap, streamlit.web.server, streamlit.runtime.scriptrunner, plotly.express, plotly.io; \
import scipy.stats, sklearn.metrics, sklearn.model_selection, sklearn.preprocessing, sklearn.datasets; \
torch.optim.AdamW([torch.zeros(2, requires_grad=True)], fused=True).step(); \
from nonlin_core.training import train; from nonlin_core.config import RunConfig; \
assert train(RunConfig(epochs=20)).final[0] is not None"

# ---- the image
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1 \
    NONLIN_DATA_DIR=/data \
    PATH=/opt/venv/bin:$PATH

COPY --from=build /opt/venv /opt/venv
WORKDIR /data

# a fixed numeric uid/gid: a bind-mounted /data can be chowned to it on the host (chown 10001 dir)
RUN groupadd --gid 10001 nonlin \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin nonlin \
    && chown nonlin:nonlin /data

USER 10001:10001
LABEL org.opencontainers.image.title="nonlin" \
      org.opencontainers.image.description="PyTorch non-linearity playground (Streamlit)" \
      org.opencontainers.image.licenses="MIT"

# the run store (runs.sqlite3) and uploads
VOLUME /data
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4); sys.exit(r.read() != b'ok')"]

# `nonlin ui` serves the installed dashboard (headless, no file watcher, no telemetry, the app's config.toml);
# extra streamlit flags can follow the image name: docker run … nonlin --server.maxUploadSize 20
ENTRYPOINT ["nonlin", "ui", "--address", "0.0.0.0", "--port", "8501"]
