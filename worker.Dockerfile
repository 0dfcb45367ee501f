# The Celery processes. The default command is the Procfile's worker line; beat runs from this
# same image with the Procfile's beat line as its command (compose.yaml does both).
# Build: docker build -f worker.Dockerfile -t mediabuy-sync-worker .
#
# Two stages: the first builds a virtual environment (dependencies, then the package from its wheel);
# the image proper gets only that environment, so no source tree, build folder or pip cache is in it.
FROM python:3.11.7-slim-bookworm AS build

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /usr/src/mediabuy-sync

# Dependencies first, named by pyproject.toml and pinned by constraints.txt, so that
# editing src/ reuses this layer. The list is read with tomllib (stdlib, no extra tool).
COPY pyproject.toml constraints.txt ./
# The worker talks to the agents with the ADCP SDK (the `agents` extra); flower (Celery's monitor)
# runs from this image too.
ARG EXTRAS="agents flower"
RUN python -c 'import os, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + [d for e in os.environ["EXTRAS"].split() for d in p["optional-dependencies"][e]]))' \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt

# Then the package itself, as a wheel (not a copy of src/); its dependencies are already there.
COPY README.md ./
COPY src ./src
RUN pip install --no-deps -c constraints.txt .


FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH

# tini is PID 1: it passes a stop signal on to our process at once and reaps zombies. A Python process that
# is PID 1 itself ignores SIGTERM until it has installed a handler, which Celery does only after its imports
# (a stop 2 s after start used to wait 60 s and end in a kill). The processes run as user and group 10001
# (a group that exists: Celery assumes root, and warns, when its gid has no name).
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && groupadd --gid 10001 app \
    && useradd --no-log-init --uid 10001 --gid 10001 \
        --create-home --home-dir /home/app --shell /usr/sbin/nologin app

# The installed code stays root-owned and read-only to the user.
COPY --from=build /opt/venv /opt/venv

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

ENTRYPOINT ["/usr/bin/tini", "--"]
# Exec form: tini runs celery directly (no shell between) and passes it the stop signal at once. --quiet:
# no banner, so that every line on stderr is one JSON log event.
CMD ["celery", "--app", "mediabuy_sync.worker.app:celery_app", "--quiet", "worker", "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--concurrency", "2"]
