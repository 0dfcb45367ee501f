# Stand-in for python:3.11.7-slim-bookworm where Docker Hub cannot be reached: Debian 12's Python 3.11.2 with
# python/pip where the official image has them (/usr/local/bin). Not the official image: figures say so.
FROM debian:bookworm-slim
COPY ca/ /usr/local/share/ca-certificates/
# hadolint ignore=DL3008
RUN apt-get update -q && apt-get install -y -q --no-install-recommends python3 python3-pip python3-venv ca-certificates \
    && update-ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/* /usr/lib/python3*/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 /usr/local/bin/pip
CMD ["python3"]
