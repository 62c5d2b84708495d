# The nonlin image with Ray added: the app replicas (BASE=nonlin, CPU) submit runs to the cluster, and the
# Ray head and workers (BASE=nonlin:gpu for a GPU worker) import nonlin_core to train them.
#   docker build -t nonlin . && docker build --build-arg VARIANT=gpu -t nonlin:gpu .   (from the repository)
ARG BASE=nonlin
FROM ${BASE}
USER root
# the base image dropped pip: ensurepip brings it back for this one install, then it goes again
RUN python -m ensurepip \
    && python -m pip install --no-cache-dir "ray[default]==2.60.0" \
    && python -m pip uninstall -y -q pip
USER 10001:10001
