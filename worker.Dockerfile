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
# The worker talks to the agents with the ADCP SDK (the `agents` extra).
ARG EXTRAS="agents"
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

# SIGTERM is Celery's warm shutdown: stop taking tasks, finish the running ones (acks_late covers a kill).
STOPSIGNAL SIGTERM

# Exec form, so celery is PID 1 and receives the stop signal itself.
CMD ["celery", "--app", "mediabuy_sync.worker.app:celery_app", "worker", "--loglevel", "INFO", "--concurrency", "2"]
