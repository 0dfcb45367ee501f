#!/bin/sh
# As the official image: no protected mode (the network is compose's own, and nothing publishes redis).
if [ "${1:-}" = redis-server ]; then shift; exec redis-server "$@" --protected-mode no; fi
exec "$@"
