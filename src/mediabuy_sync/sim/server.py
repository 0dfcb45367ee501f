"""sim: several simulated agents in one process — one event loop, one uvicorn server per port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
import warnings

from ..logs import configure_logging
from .config import SimSettings

log = logging.getLogger("mediabuy_sync.sim")


def _say(line: str) -> None:
    print(line, flush=True)


def bind(host: str, port: int) -> socket.socket:
    """Bind before the slow SDK import, so a taken port fails in milliseconds, not seconds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _stop_while_loading(*_) -> None:
    os.write(1, b"stopped\n")  # not print(): the interrupted code may hold stdout's lock
    os._exit(0)


async def _serve(settings: SimSettings, sockets: list[socket.socket], started: float) -> None:
    import uvicorn

    class Server(uvicorn.Server):
        # Several servers share this loop; the signal handlers below stop them all at once.
        @contextlib.contextmanager
        def capture_signals(self):
            yield

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    _say(f"loading the ADCP SDK ({len(settings.agents)} agent(s), seed {settings.seed}) …")
    # The import blocks the loop for seconds, so a handler of the loop's would run only after it: until then a
    # SIGTERM ends the process at once (nothing is serving yet, nothing to close but the sockets, which the
    # kernel closes), so `docker compose stop` is obeyed at once. (An exception raised into the import instead
    # can land in importlib's own callbacks, which swallow it, and the import goes on.)
    signal.signal(signal.SIGTERM, _stop_while_loading)
    with warnings.catch_warnings():
        # The SDK's boot advisories (tools/list size, deprecated capability fields) are not ours to fix.
        warnings.simplefilter("ignore")
        from .agent import SimAgent
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    agents, servers, serving = [], [], []
    try:
        for agent_settings, sock in zip(settings.agents, sockets):
            if stop.is_set():
                break
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                agent = SimAgent(agent_settings, seed=settings.seed, host=settings.host)
                app = agent.build_app()
            server = Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=30,
                                           timeout_graceful_shutdown=2))
            task = loop.create_task(server.serve(sockets=[sock]))
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            if task.done():
                task.result()  # raises the server's startup error
                raise RuntimeError(f"agent {agent_settings.id} stopped during startup")
            agent.start_clock()
            agents.append(agent)
            servers.append(server)
            serving.append(task)
            base = agent.base_url
            _say(f"agent {agent_settings.id} listening on {base}/mcp "
                 f"(jwks {base}/.well-known/jwks.json, control {base}/_sim/, key {agent_settings.key_algorithm}) "
                 f"after {time.monotonic() - started:.1f}s")
        if not stop.is_set():
            _say(f"ready: {len(agents)} agent(s); Ctrl-C stops")
            await stop.wait()
    finally:
        _say("stopping …")
        for agent in agents:
            await agent.aclose()
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*serving, return_exceptions=True)
        _say("stopped")


def run_agents(settings: SimSettings) -> int:
    """Bind every port, load the SDK, serve until SIGINT/SIGTERM; exits the process with 0 then.

    Returns (2, 130) only when it stops before serving."""
    started = time.monotonic()
    configure_logging(logging.WARNING)  # JSON lines, as every process of ours
    # It warns per agent that tools/list is large; the size is the SDK's schemas, not ours to trim.
    logging.getLogger("adcp.server").setLevel(logging.ERROR)
    sockets = []
    try:
        for agent in settings.agents:
            try:
                sockets.append(bind(settings.host, agent.port))
            except OSError as exc:
                print(f"error: agent {agent.id} cannot listen on {settings.host}:{agent.port}: {exc}",
                      file=sys.stderr)
                return 2
        asyncio.run(_serve(settings, sockets, started))
    except KeyboardInterrupt:  # Ctrl-C during the SDK import, before our handlers exist
        _say("stopped")
        return 130
    finally:
        for sock in sockets:
            sock.close()
    # Everything is closed; tearing down the SDK's module graph would add seconds to every Ctrl-C.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
