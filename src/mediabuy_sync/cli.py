"""`mediabuy-sync …`: database, services, agents, API keys, campaigns, dead events and the admin audit.

Every change an operator makes here is audited as "cli:<OS user>" (services/audit.py)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .adcp.signatures import BEARER_SCHEME, HMAC_SCHEME, RFC9421_SCHEME
from .config import settings
from .store.agents import AUTH_HEADERS


def _db_upgrade(args) -> int:
    from .store.migrate import upgrade

    applied = upgrade(settings().database_url, to=args.to)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def _keep_data(args) -> int:
    from .services.retention import keep

    print(json.dumps(keep(settings()).as_dict(), indent=2))
    return 0


def _services_up(args) -> int:
    from .devtools import services as devservices

    root = Path(args.root).resolve()
    database_url = devservices.postgres_server(root, args.db)
    devservices.create_database(database_url)
    redis_url = devservices.redis_server(root)
    print(f"export DATABASE_URL={shlex.quote(database_url)}")
    print(f"export REDIS_URL={shlex.quote(redis_url)}")
    print(f"export MEDIABUY_SECRETS_KEY={shlex.quote(devservices.secrets_key(root))}")
    return 0


def _services_down(args) -> int:
    from .devtools import services as devservices

    stopped = devservices.stop_embedded(Path(args.root).resolve())
    print("stopped: " + ", ".join(stopped) if stopped else "no embedded service was running")
    return 0


def _actor() -> str:
    from .services.audit import cli_actor

    return cli_actor()


def _token(value: str | None) -> str | None:
    """A token given as `-` is read from standard input (so it stays out of the shell's history)."""
    return sys.stdin.readline().strip() if value == "-" else value


def _agents_add(args) -> int:
    """Register a sales agent: how it signs its webhooks to us, and how we call it."""
    from .services import agents

    try:
        answer = agents.register(args.id, args.endpoint, name=args.name, protocol=args.protocol, scheme=args.scheme,
                                 secret=args.secret, jwks_uri=args.jwks_uri, auth_token=_token(args.auth_token),
                                 auth_header=args.auth_header, account_mode=args.accounts.replace("-", "_"),
                                 hmac_compact_json=args.hmac_compact_json, actor=_actor())
    except agents.AgentError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(answer))
    return 0


def _agents_set_auth(args) -> int:
    """Our token at the seller (rotation: the new one replaces the old)."""
    from .services import agents

    try:
        agents.set_auth(args.id, None if args.none else _token(args.auth_token), args.auth_header, actor=_actor())
    except agents.AgentError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps({"agent_id": args.id, "auth_header": None if args.none else args.auth_header}))
    return 0


def _agents_accounts(args) -> int:
    """The seller's account id for each of our advertisers: list, set, remove, or how the seller names them."""
    from .services import agents

    try:
        if args.mode:
            agents.set_account_mode(args.id, args.mode.replace("-", "_"), actor=_actor())
        if args.discover:
            from .queue.publisher import publisher

            agents.discover_accounts(args.id, publisher, args.timeout)
        if args.advertiser and args.remove:
            agents.remove_account(args.id, args.advertiser, actor=_actor())
        elif args.advertiser and args.account:
            agents.set_account(args.id, args.advertiser, args.account, actor=_actor())
        elif args.advertiser or args.account or args.remove:
            print("error: --advertiser takes --account ID (set) or --remove", file=sys.stderr)
            return 2
        for row in agents.accounts(args.id):
            print(f"{row['advertiser_id']}\t{row['account_id']}\t{row['source']}")
    except agents.AgentError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _agents_products(args) -> int:
    """A seller's catalogue: the products its get_products listed (--refresh: read it now, through a worker)."""
    from .queue.publisher import publisher
    from .services import products

    found = (products.read_now(args.id, publisher, args.timeout) if args.refresh else products.catalogue(args.id))
    if found is None:
        print(f"error: no agent {args.id!r}", file=sys.stderr)
        return 2
    print(json.dumps({"agent_id": args.id, "fetched_at": found.fetched_at, "error": found.error,
                      "products": [found.products[p] for p in sorted(found.products)]}, default=str))
    return 0 if found.fetched_at or not args.refresh else 1


def _advertisers_set_brand(args) -> int:
    from .services import agents

    try:
        agents.set_brand(args.id, args.domain, actor=_actor())
    except agents.AgentError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps({"advertiser_id": args.id, "brand_domain": args.domain}))
    return 0


def _agents_refresh_keys(args) -> int:
    """Fetch an RFC 9421 agent's JWKS now: new keys become active, keys gone from it are retired."""
    from .services import agent_admin
    from .services.agents import AgentError

    try:
        print(json.dumps(agent_admin.refresh_keys(args.id, actor=_actor())))
    except AgentError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1 if exc.field == "jwks_uri" else 2
    return 0


def _agents_add_secret(args) -> int:
    from .services import agent_admin
    from .services.agents import AgentError

    try:
        print(json.dumps(agent_admin.add_secret(args.id, args.secret, actor=_actor())))
    except AgentError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _agents_disable(args) -> int:
    """Disable an agent (webhooks refused, not polled) or enable it again."""
    from .services import agent_admin
    from .services.agents import AgentError

    try:
        answer = agent_admin.set_disabled(args.id, args.action == "disable", actor=_actor())
    except AgentError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(answer, default=str))
    return 0


# Revocation (issue 20): effective at once in every web process (services/credentials.py).

def _agents_credentials(args) -> int:
    from .services import credentials

    try:
        rows = credentials.list_for(args.id)
    except credentials.NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active" if row["active"] else "retired"
        print(f"{row['id']}\t{row['kind']}\t{row['key_id'] or '-'}\t{state}\t{row['created_at']:%Y-%m-%d %H:%M}")
    return 0


def _agents_retire(args) -> int:
    from .services import credentials

    try:
        if args.action == "retire-secret":
            credentials.retire_secret(args.id, args.credential_id, actor=_actor())
        else:
            credentials.retire_key(args.id, args.key_id, actor=_actor())
    except credentials.NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"agent_id": args.id, "revoked": args.credential_id if args.action == "retire-secret" else args.key_id}))
    return 0


def _apikeys_revoke(args) -> int:
    from .services import credentials

    try:
        credentials.revoke_api_key(args.key_id, actor=_actor())
    except credentials.NotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"key_id": args.key_id, "revoked": True}))
    return 0


def _agents_list(args) -> int:
    from .services import agents

    for row in agents.listed():
        auth = row["outbound_auth_header"] if row["has_auth_token"] else "no token"
        print(f"{row['id']}\t{row['inbound_scheme']}\t{row['active_credentials']} active\t{row['endpoint_uri']}"
              f"\t{auth}\taccounts: {row['account_mode']}")
    return 0


def _apikeys_create(args) -> int:
    from .services import api_keys

    created = api_keys.create(args.advertiser, args.name, actor=_actor())
    print(created["api_key"] if args.quiet else json.dumps(
        {"key_id": created["key_id"], "advertiser_id": args.advertiser, "api_key": created["api_key"]}))
    return 0


def _apikeys_list(args) -> int:
    """Every key (never the key itself): id, advertiser, name, created, revoked."""
    from .services import api_keys

    for row in api_keys.listed(args.advertiser):
        revoked = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
        print(f"{row['id']}\t{row['advertiser_id']}\t{row['name'] or '-'}\t{row['created_at']:%Y-%m-%d %H:%M}\t{revoked}")
    return 0


def _audit_list(args) -> int:
    """The admin audit, newest first, as JSON lines."""
    from .services import audit

    target_type, _, target_id = (args.target or "").rpartition(":") if args.target else (None, None, None)
    rows, _ = audit.entries(limit=args.limit, target_type=target_type or None, target_id=target_id or None,
                            action=args.action, actor=args.actor)
    for row in rows:
        print(json.dumps(row, default=str))
    return 0


def _campaigns_create(args) -> int:
    """Until the buyer API executes campaigns: a campaign whose buys the agents already know."""
    from .domain.campaigns import CampaignStatus
    from .domain.statuses import Status
    from .store.campaigns import NewBuy, create_campaign
    from .store.db import transaction

    buys = []
    for spec in args.buy:
        agent_id, _, rest = spec.partition(":")
        adcp_id, _, status = rest.partition(":")
        buys.append(NewBuy(agent_id, adcp_media_buy_id=adcp_id or None, status=Status(status or "PENDING_APPROVAL")))
    with transaction() as conn:
        campaign_id, buy_ids = create_campaign(conn, args.advertiser, args.name, buys, status=CampaignStatus.ACTIVE)
    print(campaign_id if args.quiet else json.dumps({"campaign_id": campaign_id, "media_buy_ids": buy_ids}))
    return 0


def _events_dead(args) -> int:
    from .services import inbox

    for row in inbox.dead(args.limit):
        print(f"{row['id']}\t{row['agent_id']}\t{row['task_type']}\t{row['attempts']}\t{row['last_error']}")
    return 0


def _events_unmatched(args) -> int:
    from .services import inbox

    for row in inbox.unmatched(args.limit):
        print(f"{row['id']}\t{row['agent_id']}\t{row['task_type']}\t{row['received_at']:%Y-%m-%dT%H:%M:%SZ}\t{row['reason']}")
    return 0


def _events_replay(args) -> int:
    from .queue.publisher import publisher
    from .services import inbox

    print(json.dumps({"replayed": inbox.replay(args.event_ids, publisher)}))
    return 0


def _resync(args) -> int:
    """Re-sync through the workers, showing progress, then a summary."""
    import time

    from .domain.sync_runs import FINISHED, SyncRunKind, SyncRunSource, SyncRunState
    from .queue.publisher import publisher
    from .services import resync
    from .store import sync_runs

    kind = {"media-buy": SyncRunKind.MEDIA_BUY, "campaign": SyncRunKind.CAMPAIGN, "agent": SyncRunKind.AGENT}[args.kind]
    run_id = resync.request(kind, args.id, SyncRunSource.ADMIN, publisher)
    run = sync_runs.get(run_id)
    print(f"sync run {run_id}: {run['total']} media buys to ask about", flush=True)
    if run["total"] == 0:
        return 0
    deadline = time.monotonic() + args.timeout
    while run["state"] not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.5)
        run = sync_runs.get(run_id)
        print(f"  {run['done']}/{run['total']} {run['state']}", flush=True)
    if run["state"] != SyncRunState.DONE:
        print(f"error: run {run_id} not finished after {args.timeout} s ({run['state']})", file=sys.stderr)
        return 1
    result = run["result"]
    print(json.dumps({"run_id": run_id, "media_buys": len(result["media_buys"]), "updated": result["updated"],
                      "errors": result["errors"]}, default=str))
    return 0 if not result["errors"] else 1


def _secrets_new_key(args) -> int:
    from .store.secretbox import new_key

    print(new_key())
    return 0


def _secrets_rotate(args) -> int:
    """Seal every agent secret (and buyers' webhook subscription secret) again with the first key of
    MEDIABUY_SECRETS_KEY; the others can go after."""
    from .store import agents, notifications
    from .store.db import transaction

    with transaction() as conn:
        count = agents.reseal_secrets(conn) + notifications.reseal_secrets(conn)
    print(json.dumps({"resealed": count}))
    return 0


def _ops_end_sessions(args) -> int:
    """End every /ops session now (their cookies are refused from the next request on)."""
    from .store import ops_sessions
    from .store.db import transaction

    with transaction() as conn:
        print(json.dumps({"ended": ops_sessions.end_all(conn)}))
    return 0


def _config_table(args) -> int:
    from .config import markdown_table

    print(markdown_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediabuy-sync", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the schema").add_subparsers(dest="action", required=True)
    db_upgrade = db.add_parser("upgrade", help="apply pending migrations (safe to run again)")
    db_upgrade.add_argument("--to", type=int, metavar="VERSION", help="stop after this migration (e.g. 28)")
    db_upgrade.set_defaults(func=_db_upgrade)
    db.add_parser("keep-data", help="now, what beat's keep-data job does: partitions ahead, expired ones dropped, "
                  "old run records deleted (docs/data-lifecycle.md)").set_defaults(func=_keep_data)

    services = sub.add_parser("services", help="find or start PostgreSQL and Redis for local use").add_subparsers(dest="action", required=True)
    up = services.add_parser("up", help="print DATABASE_URL, REDIS_URL and MEDIABUY_SECRETS_KEY exports, starting embedded servers if needed")
    up.add_argument("--db", default="mediabuy")
    up.add_argument("--root", default=".")
    up.set_defaults(func=_services_up)
    down = services.add_parser("down", help="stop the embedded servers of this checkout")
    down.add_argument("--root", default=".")
    down.set_defaults(func=_services_down)

    agents = sub.add_parser("agents", help="sales agents").add_subparsers(dest="action", required=True)
    add = agents.add_parser("add", help="register a sales agent and its first inbound secret (rfc9421: its JWKS keys)")
    add.add_argument("--id", required=True)
    add.add_argument("--name")
    add.add_argument("--endpoint", required=True, help="the agent's ADCP endpoint URI")
    add.add_argument("--protocol", choices=("mcp", "a2a"), default="mcp")
    add.add_argument("--scheme", choices=(HMAC_SCHEME, BEARER_SCHEME, RFC9421_SCHEME), default=HMAC_SCHEME)
    add.add_argument("--secret", help="default: a new random secret, printed")
    add.add_argument("--jwks-uri", help="rfc9421: the agent's JWKS, whose keys are fetched and stored now")
    add.add_argument("--auth-token", help="our token at the seller, sent with every call (`-`: read it from stdin)")
    add.add_argument("--auth-header", choices=AUTH_HEADERS, default="x-adcp-auth",
                     help="x-adcp-auth: the raw token (ADCP's default); authorization: Bearer <token>")
    add.add_argument("--accounts", choices=("advertiser-id", "seller"), default="advertiser-id",
                     help="seller: it assigns its own account ids (set each with `agents accounts`); "
                          "advertiser-id: it takes our advertiser ids")
    add.add_argument("--hmac-compact-json", action="store_true",
                     help="hmac-sha256: also accept a signature over the compact JSON of the body, for a seller "
                          "that signs json.dumps(body, separators=(',', ':')) but posts it re-serialised (counted)")
    add.set_defaults(func=_agents_add)
    auth = agents.add_parser("set-auth", help="our token at the seller (replaces the one before)")
    auth.add_argument("id")
    given = auth.add_mutually_exclusive_group(required=True)
    given.add_argument("--auth-token", help="the token (`-`: read it from stdin)")
    given.add_argument("--none", action="store_true", help="send no token")
    auth.add_argument("--auth-header", choices=AUTH_HEADERS, default="x-adcp-auth")
    auth.set_defaults(func=_agents_set_auth)
    accounts = agents.add_parser("accounts", help="the seller's account id for each advertiser (list; set; remove)")
    accounts.add_argument("id")
    accounts.add_argument("--advertiser", help="our advertiser id")
    accounts.add_argument("--account", help="the seller's account id for it")
    accounts.add_argument("--remove", action="store_true", help="forget the advertiser's account at this seller")
    accounts.add_argument("--mode", choices=("advertiser-id", "seller"), help="how the seller names accounts")
    accounts.add_argument("--discover", action="store_true",
                          help="ask the seller (through a worker) for our branded advertisers' accounts")
    accounts.add_argument("--timeout", type=float, default=20.0)
    accounts.set_defaults(func=_agents_accounts)
    catalogue = agents.add_parser("products", help="a seller's catalogue, as its get_products listed it")
    catalogue.add_argument("id")
    catalogue.add_argument("--refresh", action="store_true", help="read it from the seller now (through a worker)")
    catalogue.add_argument("--timeout", type=float, default=20.0)
    catalogue.set_defaults(func=_agents_products)
    rotate = agents.add_parser("add-secret", help="add another active secret (rotation)")
    rotate.add_argument("id")
    rotate.add_argument("--secret")
    rotate.set_defaults(func=_agents_add_secret)
    refresh = agents.add_parser("refresh-keys", help="fetch an rfc9421 agent's JWKS again (rotation)")
    refresh.add_argument("id")
    refresh.set_defaults(func=_agents_refresh_keys)
    agents.add_parser("list").set_defaults(func=_agents_list)
    for verb, what in (("disable", "refuse its webhooks and stop polling it (nothing is deleted)"),
                       ("enable", "accept its webhooks and poll it again")):
        toggle = agents.add_parser(verb, help=what)
        toggle.add_argument("id")
        toggle.set_defaults(func=_agents_disable)
    creds = agents.add_parser("credentials", help="an agent's secrets and keys: ids and states (never the secrets)")
    creds.add_argument("id")
    creds.set_defaults(func=_agents_credentials)
    retire_secret = agents.add_parser("retire-secret", help="revoke an HMAC secret or Bearer token now (id from `agents credentials`)")
    retire_secret.add_argument("id")
    retire_secret.add_argument("credential_id", type=int)
    retire_secret.set_defaults(func=_agents_retire)
    retire_key = agents.add_parser("retire-key", help="revoke an rfc9421 key now, for good (its kid)")
    retire_key.add_argument("id")
    retire_key.add_argument("key_id")
    retire_key.set_defaults(func=_agents_retire)

    advertisers = sub.add_parser("advertisers", help="advertisers").add_subparsers(dest="action", required=True)
    brand = advertisers.add_parser("set-brand", help="the brand domain the advertiser's buys are for")
    brand.add_argument("id")
    brand.add_argument("--domain", required=True)
    brand.set_defaults(func=_advertisers_set_brand)

    keys = sub.add_parser("apikeys", help="buyer API keys").add_subparsers(dest="action", required=True)
    create_key = keys.add_parser("create", help="a new API key for one advertiser (printed once)")
    create_key.add_argument("--advertiser", required=True)
    create_key.add_argument("--name", default="")
    create_key.add_argument("--quiet", action="store_true", help="print the key alone")
    revoke_key = keys.add_parser("revoke", help="revoke an API key now (its key id)")
    revoke_key.add_argument("key_id")
    revoke_key.set_defaults(func=_apikeys_revoke)
    create_key.set_defaults(func=_apikeys_create)
    list_keys = keys.add_parser("list", help="the keys: id, advertiser, name, created, revoked (never the key)")
    list_keys.add_argument("--advertiser")
    list_keys.set_defaults(func=_apikeys_list)

    audit_cmd = sub.add_parser("audit", help="the admin audit: who changed what, when").add_subparsers(dest="action", required=True)
    audit_list = audit_cmd.add_parser("list", help="newest first, as JSON lines")
    audit_list.add_argument("--target", help="TYPE:ID (agent:seller_news, api_key:key_…, advertiser:adv_…) or ID")
    audit_list.add_argument("--action", help="e.g. agent.register, api_key.revoke")
    audit_list.add_argument("--actor", help="e.g. cli:alice, admin-token:1a2b3c4d")
    audit_list.add_argument("--limit", type=int, default=100)
    audit_list.set_defaults(func=_audit_list)

    camps = sub.add_parser("campaigns", help="campaigns").add_subparsers(dest="action", required=True)
    create = camps.add_parser("create", help="a campaign with media buys the agents already know")
    create.add_argument("--advertiser", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--buy", action="append", required=True, metavar="AGENT:ADCP_MEDIA_BUY_ID[:STATUS]")
    create.add_argument("--quiet", action="store_true", help="print the campaign id alone")
    create.set_defaults(func=_campaigns_create)

    events = sub.add_parser("events", help="the webhook inbox").add_subparsers(dest="action", required=True)
    dead = events.add_parser("dead", help="list dead events")
    dead.add_argument("--limit", type=int, default=100)
    dead.set_defaults(func=_events_dead)
    unmatched = events.add_parser("unmatched", help="list events no media buy matched (newest first), with why")
    unmatched.add_argument("--limit", type=int, default=100)
    unmatched.set_defaults(func=_events_unmatched)
    replay = events.add_parser("replay", help="process dead or unmatched events again")
    replay.add_argument("event_ids", nargs="+", type=int)
    replay.set_defaults(func=_events_replay)
    resync_cmd = sub.add_parser("resync", help="ask the agents now about one buy, a campaign's or an agent's buys")
    resync_cmd.add_argument("kind", choices=("media-buy", "campaign", "agent"))
    resync_cmd.add_argument("id")
    resync_cmd.add_argument("--timeout", type=float, default=120.0)
    resync_cmd.set_defaults(func=_resync)

    secrets_cmd = sub.add_parser("secrets", help="the key sealing agent secrets at rest").add_subparsers(dest="action", required=True)
    secrets_cmd.add_parser("new-key", help="print a new key for MEDIABUY_SECRETS_KEY").set_defaults(func=_secrets_new_key)
    secrets_cmd.add_parser("rotate", help="re-seal every agent secret and webhook subscription secret with the first key of MEDIABUY_SECRETS_KEY").set_defaults(
        func=_secrets_rotate)

    ops_cmd = sub.add_parser("ops", help="the /ops pages' sessions").add_subparsers(dest="action", required=True)
    ops_cmd.add_parser("end-sessions", help="end every /ops session now").set_defaults(func=_ops_end_sessions)

    sub.add_parser("config-table", help="the settings as docs/configuration.md's Markdown table").set_defaults(func=_config_table)
    from .sim.cli import add_simulate_agent_parser  # stdlib only; the ADCP SDK loads when it runs

    add_simulate_agent_parser(sub)
    from .devtools.demo import add_parser as add_demo_parser

    add_demo_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .store.secretbox import SecretsKeyMissing

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SecretsKeyMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
