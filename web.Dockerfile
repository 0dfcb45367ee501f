# The web process: gunicorn serving mediabuy_sync.web, as the Procfile's web line.
# Build: docker build -f web.Dockerfile -t mediabuy-sync-web .   (compose.yaml does this)
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
# The web needs no extra: it never imports the ADCP SDK.
ARG EXTRAS=""
RUN python -c 'import os, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print("\n".join(p["dependencies"] + [d for e in os.environ["EXTRAS"].split() for d in p["optional-dependencies"][e]]))' \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the package itself; its dependencies are already there.
COPY README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps -c constraints.txt .

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

# Exec form, so gunicorn is PID 1 and gets SIGTERM itself (graceful stop).
CMD ["gunicorn", "--config", "python:mediabuy_sync.web.gunicorn_conf", "mediabuy_sync.web:create_app()"]
