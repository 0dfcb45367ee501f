# The web process: gunicorn serving mediabuy_sync.web, as the Procfile's web line.
# Build: docker build -f web.Dockerfile -t mediabuy-sync-web .   (compose.yaml does this)
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
# The web needs no extra: it never imports the ADCP SDK.
ARG EXTRAS=""
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

# A writable working directory (nothing is written today, but a relative path must not land in root-owned code).
WORKDIR /home/app
# Numeric, so that orchestrators can verify "runAsNonRoot".
USER 10001:10001

# gunicorn_conf.py binds MEDIABUY_BIND (127.0.0.1:8000 by default, unreachable from outside a container).
ENV MEDIABUY_BIND=0.0.0.0:8000
EXPOSE 8000

# slim has no curl: ask /healthz with the interpreter we already have (a non-2xx or no answer raises, exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# Exec form: tini runs gunicorn directly (no shell between), which gets SIGTERM (graceful stop).
CMD ["gunicorn", "--config", "python:mediabuy_sync.web.gunicorn_conf", "mediabuy_sync.web:create_app()"]
