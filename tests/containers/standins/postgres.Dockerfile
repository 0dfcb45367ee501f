# Stand-in for postgres:16 where Docker Hub cannot be reached: Debian 12's PostgreSQL 15, honouring what
# compose.yaml sets (POSTGRES_PASSWORD, POSTGRES_DB, data in /var/lib/postgresql/data, pg_isready on PATH).
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update -q && apt-get install -y -q --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/
# the official image's: SIGINT is PostgreSQL's fast shutdown
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
