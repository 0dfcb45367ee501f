# The Celery processes. The default command is the Procfile's worker line; beat runs from this
# same image with the Procfile's beat line as its command (compose.yaml does both).
# Build: docker build -f worker.Dockerfile -t mediabuy-sync-worker .
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The processes run as this user; the installed code stays root-owned and read-only to it.
RUN useradd --system --no-log-init --uid 10001 --user-group \
        --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /usr/src/mediabuy-sync

# Dependencies first, named by pyproject.toml and pinned by constraints.txt, so that
# editing src/ reuses this layer. The list is read with tomllib (stdlib, no extra tool).
COPY pyproject.toml constraints.txt ./
# The worker talks to the agents with the ADCP SDK (the `agents` extra); flower (Celery's monitor)
# runs from this image too.
ARG EXTRAS="agents flower"
RUN python -c 'import os, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + [d for e in os.environ["EXTRAS"].split() for d in p["optional-dependencies"][e]]))' \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the package itself; its dependencies are already there.
COPY README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps -c constraints.txt .

# Writable working directory: beat keeps its celerybeat-schedule file in the current directory.
WORKDIR /home/app
# Numeric, so that orchestrators can verify "runAsNonRoot".
USER 10001:10001

# Prometheus metrics of the worker (parent and pool) and of beat, on ports of their own (config.py);
# every interface, since Prometheus scrapes from outside the container.
ENV MEDIABUY_WORKER_METRICS_PORT=9808 \
    MEDIABUY_BEAT_METRICS_PORT=9809 \
    MEDIABUY_METRICS_BIND=0.0.0.0
EXPOSE 9808 9809

# Is this worker's own node answering? (beat and flower, run from this image, set their own in compose.yaml)
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "celery --app mediabuy_sync.worker.app:celery_app inspect ping --timeout 10 --destination celery@$HOSTNAME"]

# SIGTERM is Celery's warm shutdown: stop taking tasks, finish the running ones (acks_late covers a kill).
STOPSIGNAL SIGTERM

# Exec form, so celery is PID 1 and receives the stop signal itself. --quiet: no banner, so that
# every line on stderr is one JSON log event.
CMD ["celery", "--app", "mediabuy_sync.worker.app:celery_app", "--quiet", "worker", "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--concurrency", "2"]
