# axSpA therapy-switch CDS Hooks service: slim, non-root, several uvicorn workers.
#   docker build -t axspa-cds:0.1.0 .
#   docker run --rm -p 127.0.0.1:8000:8000 -e CDS_ALLOW_UNAUTHENTICATED=true axspa-cds:0.1.0
# Production: set CDS_TRUSTED_CLIENTS (a mounted JSON file) and CDS_DATABASE_URL=postgresql://... instead.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- build: install the project (and its pinned-range dependencies) into a virtualenv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml ./
COPY hooks ./hooks
COPY service ./service
RUN /opt/venv/bin/pip install . \
 && /opt/venv/bin/python -c "import hooks.knowledge; from service.app import create_app" \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# ---- runtime: the virtualenv, the demo fixtures for the preview page, an unprivileged user
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WORKERS=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/cds-metrics \
    CDS_PREVIEW_FIXTURES=/app/fhir_fixtures \
    CDS_DATABASE_URL=sqlite:////app/state/axspa-cds.sqlite3
RUN groupadd --system --gid 10001 cds \
 && useradd --system --uid 10001 --gid cds --home-dir /app --no-create-home --shell /usr/sbin/nologin cds \
 && mkdir -p /app/state \
 && chown cds:cds /app/state
COPY --from=build /opt/venv /opt/venv
COPY fhir_fixtures /app/fhir_fixtures
COPY deploy/load_fixtures.py /app/deploy/load_fixtures.py
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
# Connection hygiene comes with `python -m service` (its HTTP protocol, service/ops/connections.py), tuned by the
# CDS_* limits (README "Operations: limits": CDS_KEEP_ALIVE_S, CDS_HEADER_TIMEOUT_S, CDS_BODY_TIMEOUT_S,
# CDS_MAX_CONNECTIONS per worker, CDS_MAX_HEADER_BYTES, CDS_BACKLOG, CDS_DRAIN_MAX_BYTES...). At start it raises the
# soft file-descriptor limit to the container's hard one and logs what that allows; the limit is per process, so
# give the container a hard `nofile` of at least CDS_MAX_CONNECTIONS + CDS_FHIR_MAX_CONNECTIONS x allowlisted servers
# + 256 (`docker run --ulimit nofile=65536`).
# `python -m service` checks the configuration (a one-line refusal), then runs uvicorn on the app factory
# (service.app:create_app, --factory). sh only prepares an empty per-start metrics directory (several workers share it: /metrics sums them) and
# expands ${WORKERS}; `exec` replaces it, so python is PID 1 and receives SIGTERM directly.
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec python -m service --host 0.0.0.0 --port 8000 --workers \"${WORKERS}\""]
