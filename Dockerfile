# streamapp worker image: `faust -A streamapp worker -l info` on python:3.12-slim, as a non-root
# user, ready for a read-only root filesystem (state goes to STREAMAPP_DATADIR, a volume).
#
#   docker build -t streamapp:0.1.0 .
#   docker run --rm -e STREAMAPP_BROKER=kafka://kafka:9092 \
#       -v "$PWD/settings/connectors:/etc/streamapp/connectors:ro" -p 6066:6066 streamapp:0.1.0
#
# Kubernetes manifests: deploy/ (see the README, "Deploying on Kubernetes").
# tests/deploy/test_dockerfile.py replays the build stage's pip install and runs the CMD.

# --- build stage: a virtualenv with the package and its dependencies -----------------------
FROM python:3.12-slim AS build
# A C toolchain and autotools for dependencies that compile on install (the DTLS extension of
# the CoAP client has no wheel); they stay in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential autoconf automake libtool pkg-config \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv --upgrade-deps /opt/streamapp   # a current pip and setuptools
COPY pyproject.toml README.md /src/
COPY streamapp /src/streamapp
# No [dev] extra; [rocksdb] adds the RocksDB table store (STREAMAPP_STORE=rocksdb://).
RUN /opt/streamapp/bin/pip install --no-cache-dir "/src[rocksdb]"

# --- runtime stage: the virtualenv only ----------------------------------------------------
FROM python:3.12-slim
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /var/lib/streamapp streamapp \
    && install -d -o 10001 -g 10001 /var/lib/streamapp /etc/streamapp/connectors
COPY --from=build /opt/streamapp /opt/streamapp
ENV PATH=/opt/streamapp/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STREAMAPP_WEB_PORT=6066 \
    STREAMAPP_DATADIR=/var/lib/streamapp \
    STREAMAPP_CONNECTORS=/etc/streamapp/connectors/
USER 10001:10001
WORKDIR /var/lib/streamapp
EXPOSE 6066
# Exec form: the worker is PID 1 and gets SIGTERM itself (graceful shutdown). Same command as the Procfile.
CMD ["faust", "-A", "streamapp", "worker", "-l", "info"]
