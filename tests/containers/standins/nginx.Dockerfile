# Stand-in for nginx:1.27 where Docker Hub cannot be reached: Debian 12's nginx 1.22 (and curl, which the
# official image has and compose.yaml's healthcheck uses); compose.yaml mounts deploy/nginx.conf.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nginx-light curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# the official image's: SIGQUIT is nginx's graceful stop
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
