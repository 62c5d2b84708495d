# nonlin: the Streamlit playground in one image. CPU everywhere; `docker run --gpus all` uses a GPU,
# because torch==2.13.0 from PyPI is the CUDA-enabled Linux wheel (the core picks cuda/mps/cpu at run time).
#   docker build -t nonlin .                      (--build-arg FETCH_DATA=0: no heart-failure download)
#   docker run -p 8501:8501 -v nonlin-data:/data nonlin     -> http://localhost:8501
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1 \
    NONLIN_DATA_DIR=/data

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# a fixed numeric uid/gid: a bind-mounted /data can be chowned to it on the host (chown 10001 dir)
RUN groupadd --gid 10001 nonlin \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin nonlin \
    && mkdir -p /data \
    && chown nonlin:nonlin /data

# code stays root-owned: the server can read it, not change it
COPY .streamlit/ .streamlit/
COPY nonlin_core/ nonlin_core/
COPY nonlin_ui/ nonlin_ui/
COPY pages/ pages/
COPY app.py .

USER 10001:10001

# The UCI heart-failure file (sha256-checked by the loader) when the build can reach UCI; otherwise
# the app downloads it on first use, or says where to put it. Before VOLUME, so a new volume gets it.
ARG FETCH_DATA=1
RUN if [ "$FETCH_DATA" = "1" ]; then \
      python -c "from nonlin_core.datasets import heart_failure_path; print('heart-failure data:', heart_failure_path())" \
      || echo "heart-failure data: not fetched (no network?); the app will download it or say how to provide it"; \
    fi

# the run store (runs.sqlite3), uploads and the heart-failure file
VOLUME /data
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4); sys.exit(r.read() != b'ok')"]

# extra streamlit flags can follow the image name: docker run … nonlin --server.maxUploadSize 20
ENTRYPOINT ["streamlit", "run", "app.py", \
            "--server.headless", "true", "--server.address", "0.0.0.0", "--server.port", "8501", \
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
