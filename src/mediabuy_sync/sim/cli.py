"""sim: `mediabuy-sync simulate-agent` — argument parsing only; the SDK loads when the command runs."""

from __future__ import annotations

import argparse
import sys

from .config import PROFILES, ConfigError, build_settings


def add_simulate_agent_parser(sub) -> None:
    """Register the subcommand on the main parser's subparsers."""
    parser = sub.add_parser(
        "simulate-agent",
        help="run simulated ADCP sales agents (MCP) for local runs, demos and tests",
        description="Simulated ADCP sales agents over MCP, one port each: /mcp, /.well-known/jwks.json, "
        "/_sim/ (control API). Lifecycle timings and fault knobs come from --config and can be "
        "changed at runtime with POST /_sim/knobs.",
    )
    parser.add_argument("--agents", type=int, default=1, help="how many agents (ignored when --config lists them)")
    parser.add_argument("--base-port", type=int, default=9101, help="first port; agent n listens on base+n-1")
    parser.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--config", metavar="FILE", help="JSON: seed, defaults {timings, faults}, agents [...]")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="how the agents behave: polite (default) or strict-seller, the behaviours of real "
                        "sellers (knobs, see docs/simulator.md); an agent's own \"profile\" in --config wins")
    parser.add_argument("--demo", action="store_true",
                        help="the demo's agents: three polite ones and a strict seller (ports base … base+3)")
    parser.add_argument("--seed", type=int, default=None, help="seed for every random decision (default 0)")
    parser.add_argument("--check", action="store_true", help="print the effective settings as JSON and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.agents < 1:
        print("error: --agents must be at least 1", file=sys.stderr)
        return 2
    try:
        settings = build_settings(agents=args.agents, base_port=args.base_port, seed=args.seed,
                                  host=args.host, config_path=args.config, profile=args.profile, demo=args.demo)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        import json

        print(json.dumps({"seed": settings.seed, "host": settings.host,
                          "agents": [a.to_dict() for a in settings.agents]}, indent=2))
        return 0
    from .server import run_agents

    return run_agents(settings)
