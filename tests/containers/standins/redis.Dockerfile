# Stand-in for redis:7 where Docker Hub cannot be reached: Debian 12's Redis 7.0; compose.yaml gives the command.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update -q && apt-get install -y -q --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
COPY redis-entrypoint.sh /usr/local/bin/
USER redis
ENTRYPOINT ["/usr/local/bin/redis-entrypoint.sh"]
CMD ["redis-server"]
