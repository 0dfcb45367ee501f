"""sim: the simulator's settings — per-agent lifecycle timings and fault knobs, from a JSON file and at runtime.

Standard library only, so the CLI can parse and check a config before paying for the SDK import.

A config file looks like::

    {"seed": 7,
     "defaults": {"timings": {"approval_delay_seconds": 2}, "faults": {"webhook_drop_share": 0.1}},
     "agents": [{"id": "sim_news", "port": 9101, "key_algorithm": "ecdsa-p256",
                 "faults": {"webhook_duplicate_share": 0.5}}]}

Every agent starts from the defaults, then its own `timings` / `faults` override them key by key.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

KEY_ALGORITHMS = ("ed25519", "ecdsa-p256")
APPROVAL_WORDS = ("", "completed")
_AGENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class ConfigError(ValueError):
    """A setting is unknown or out of range; the message names it."""


@dataclass
class Timings:
    """How a buy moves through its lifecycle. Seconds of wall-clock time."""

    approval_delay_seconds: float = 5.0  # submitted → decision (reject / input-required / active)
    activation_delay_seconds: float = 2.0  # creatives assigned → active, for buys that waited on them
    input_required_share: float = 0.3  # of approved buys without creatives: wait for sync_creatives first
    reject_share: float = 0.1
    delivery_interval_seconds: float = 30.0  # delivery-report webhooks per live buy; 0 turns them off
    impressions_per_report: int = 5000  # per package per report, ±20 %
    click_rate: float = 0.002
    default_cpm: float = 8.0
    tick_seconds: float = 0.1  # the lifecycle clock's resolution


@dataclass
class Faults:
    """What goes wrong, and how often. Shares are probabilities in [0, 1]."""

    webhook_drop_share: float = 0.0  # never sent (polling must notice)
    webhook_duplicate_share: float = 0.0  # sent twice, same idempotency_key
    webhook_reorder_window: int = 0  # hold this many, then send them shuffled; 0 = in order
    webhook_reorder_max_hold_seconds: float = 5.0  # a partly filled window is flushed after this long
    webhook_delay_seconds: float = 0.0
    webhook_delay_jitter_seconds: float = 0.0
    webhook_max_attempts: int = 5  # per delivery, on 5xx / 429 / timeouts; same idempotency_key
    webhook_retry_base_seconds: float = 0.5  # doubles per attempt
    webhook_timeout_seconds: float = 5.0
    poll_http_error_share: float = 0.0  # get_media_buys / get_media_buy_delivery answer HTTP 503
    poll_adcp_error_share: float = 0.0  # … answer an ADCP SERVICE_UNAVAILABLE error
    poll_slow_share: float = 0.0  # … answer after poll_slow_seconds
    poll_slow_seconds: float = 3.0
    silent_change_per_minute: float = 0.0  # per live buy: pause/resume it with no webhook
    submitted_webhook: bool = True  # also announce `submitted` (carries the media_buy_id)
    update_webhooks: bool = True  # a completed update_media_buy webhook after each update
    update_delay_seconds: float = 0.0  # update_media_buy answers this long after applying (a slow seller)
    # -- how real sellers differ from a polite one (../shared/SELLERS.md); the strict-seller profile --
    auth_required: bool = False  # every /mcp request needs a token: HTTP 401 AUTH_REQUIRED otherwise
    auth_header: str = "x-adcp-auth"  # where the raw token goes (a "Bearer …" value there is refused)
    auth_bearer: bool = False  # also take `Authorization: Bearer <token>`
    seller_accounts: bool = False  # `account` must be an id this seller assigned (sync_accounts/list_accounts)
    catalog_required: bool = False  # products, pricing options and bid prices checked against get_products
    sync_create: bool = False  # create answers `completed` with the buy at once (no task, no approval wait)
    read_omits_fields: bool = False  # get_media_buys without revision, adcp_version, confirmed_at, status_as_of
    webhook_operation_id: bool = True  # false: webhooks never carry operation_id; a sync create's say `result: {}`
    webhook_per_push_config: bool = False  # every webhook to each push config the account holds, new key each
    approval_status_word: str = ""  # "completed": media_buy_status of the approval webhook of a buy gone active
    update_noop_share: float = 0.0  # update_media_buy answered `completed`, affected_packages [], not applied
    hmac_compact_signing: bool = False  # HMAC over compact JSON, body posted with default separators
    refuse_unknown_fields: bool = False  # VALIDATION_ERROR "Unexpected keyword argument" (STRICT_REFUSED_FIELDS)
    webhook_stop_at_4xx: bool = False  # no retry after any 4xx (by default 408 and 429 are retried)


# The fields a strict seller does not know, per task (one seller's default mode refused these).
STRICT_REFUSED_FIELDS = {
    "create_media_buy": ("total_budget", "adcp_major_version"),
    "update_media_buy": ("account", "total_budget", "adcp_major_version"),
}

# A profile is a set of knobs, applied over the defaults and under the agent's own settings.
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "polite": {},
    "strict-seller": {
        "faults": {
            "auth_required": True, "auth_header": "x-adcp-auth", "auth_bearer": True,
            "seller_accounts": True, "catalog_required": True, "sync_create": True,
            "read_omits_fields": True, "webhook_operation_id": False, "webhook_per_push_config": True,
            "approval_status_word": "completed", "update_noop_share": 0.5, "hmac_compact_signing": True,
            "refuse_unknown_fields": True, "webhook_stop_at_4xx": True, "submitted_webhook": False,
        },
    },
}


# The agents `./dev up`'s demo runs (`simulate-agent --demo`): three polite ones, one per webhook
# signature scheme, and a strict seller that wants our token and its own account ids, sells from its
# catalogue and answers creates synchronously. Not (yet) its refusal of fields it does not know, nor
# its HMAC over another byte string than it sends: the demo shows a campaign that works.
DEMO_STRICT_TOKEN = "demo-strict-seller-token"  # a simulated seller's, for the local demo only
DEMO_STRICT_ACCOUNT = "acc_demo_strict"
DEMO_BRAND = "demo-brand.example"
DEMO_STRICT = {"id": "sim_strict_4", "profile": "strict-seller", "auth_tokens": [DEMO_STRICT_TOKEN],
               "accounts": [{"account_id": DEMO_STRICT_ACCOUNT, "brand": {"domain": DEMO_BRAND}}],
               "faults": {"refuse_unknown_fields": False, "hmac_compact_signing": False, "update_noop_share": 0.0}}


@dataclass
class AgentSettings:
    id: str
    port: int
    key_algorithm: str = "ed25519"
    timings: Timings = field(default_factory=Timings)
    faults: Faults = field(default_factory=Faults)
    profile: str = "polite"
    auth_tokens: list[str] = field(default_factory=list)  # empty: any non-empty token is taken
    accounts: list[dict[str, Any]] = field(default_factory=list)  # preconfigured seller accounts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SimSettings:
    agents: list[AgentSettings]
    seed: int = 0
    host: str = "127.0.0.1"


_SHARES = {
    "input_required_share", "reject_share", "click_rate", "webhook_drop_share", "webhook_duplicate_share",
    "poll_http_error_share", "poll_adcp_error_share", "poll_slow_share", "update_noop_share",
}
_CHOICES = {"approval_status_word": APPROVAL_WORDS}


def _coerce(section: type, current: Any, values: dict[str, Any], where: str) -> Any:
    """`current` with `values` applied, each checked against the dataclass field's type and range."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be an object")
    known = {f.name: f for f in fields(section)}
    changes: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise ConfigError(f"{where}.{name} is not a known setting (known: {', '.join(sorted(known))})")
        kind = type(getattr(section(), name))
        if kind is str:
            if not isinstance(value, str):
                raise ConfigError(f"{where}.{name} must be a string")
            if name in _CHOICES and value not in _CHOICES[name]:
                raise ConfigError(f"{where}.{name} must be one of {', '.join(map(repr, _CHOICES[name]))}")
            if name == "auth_header" and not re.match(r"^[A-Za-z0-9-]{1,64}$", value):
                raise ConfigError(f"{where}.{name} must be an HTTP header name")
            changes[name] = value
            continue
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{name} must be true or false")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{name} must be a number")
        elif kind is int:
            if value != int(value):
                raise ConfigError(f"{where}.{name} must be a whole number")
            value = int(value)
        else:
            value = float(value)
        if kind is not bool and value < 0:
            raise ConfigError(f"{where}.{name} must not be negative")
        if name in _SHARES and value > 1:
            raise ConfigError(f"{where}.{name} is a share and must be at most 1")
        changes[name] = value
    updated = replace(current, **changes)
    if isinstance(updated, Timings):
        if updated.reject_share + updated.input_required_share > 1:
            raise ConfigError(f"{where}: reject_share + input_required_share must be at most 1")
        if updated.tick_seconds <= 0:
            raise ConfigError(f"{where}.tick_seconds must be positive")
    if isinstance(updated, Faults) and updated.webhook_max_attempts < 1:
        raise ConfigError(f"{where}.webhook_max_attempts must be at least 1")
    return updated


def apply_knobs(timings: Timings, faults: Faults, update: dict[str, Any]) -> tuple[Timings, Faults]:
    """A runtime change, as GET /_sim/knobs shows them ({"timings": {…}, "faults": {…}}) or flat.

    All or nothing: an invalid key or value raises ConfigError and changes neither section.
    """
    if not isinstance(update, dict):
        raise ConfigError("knobs must be a JSON object")
    nested = {k: update.pop(k) for k in ("timings", "faults") if isinstance(update.get(k), dict)}
    timing_names = {f.name for f in fields(Timings)}
    flat_timings = {k: v for k, v in update.items() if k in timing_names}
    flat_faults = {k: v for k, v in update.items() if k not in timing_names}
    timings = _coerce(Timings, timings, {**nested.get("timings", {}), **flat_timings}, "timings")
    faults = _coerce(Faults, faults, {**nested.get("faults", {}), **flat_faults}, "faults")
    return timings, faults


def _accounts(entries: Any, where: str) -> list[dict[str, Any]]:
    """Preconfigured seller accounts: [{"account_id", "brand": {"domain"}, "operator"?, "name"?}]."""
    if not isinstance(entries, list):
        raise ConfigError(f"{where} must be a list")
    accounts = []
    for index, entry in enumerate(entries):
        here = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{here} must be an object")
        unknown = set(entry) - {"account_id", "brand", "operator", "name"}
        if unknown:
            raise ConfigError(f"unknown keys in {here}: {', '.join(sorted(unknown))}")
        account_id = entry.get("account_id")
        if not isinstance(account_id, str) or not _AGENT_ID.match(account_id):
            raise ConfigError(f"{here}.account_id must be 1-64 characters of [A-Za-z0-9_.:-]")
        brand = entry.get("brand")
        if not isinstance(brand, dict) or not isinstance(brand.get("domain"), str):
            raise ConfigError(f"{here}.brand must be an object with a domain")
        accounts.append({"account_id": account_id, "brand": {"domain": brand["domain"].lower()},
                         "operator": entry.get("operator") or brand["domain"].lower(),
                         "name": entry.get("name") or account_id})
    if len({a["account_id"] for a in accounts}) != len(accounts):
        raise ConfigError(f"two of {where} share an account_id")
    return accounts


def build_settings(
    *,
    agents: int = 1,
    base_port: int = 9101,
    seed: int | None = None,
    host: str | None = None,
    config_path: str | Path | None = None,
    profile: str | None = None,
    demo: bool = False,
) -> SimSettings:
    """Settings from the CLI options and an optional JSON file.

    The file's agent list wins over --agents; --seed and --host win over the file's; --profile is
    every agent's profile unless the file names one for the agent.
    """
    document: dict[str, Any] = {}
    if config_path is not None:
        try:
            document = json.loads(Path(config_path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read {config_path}: {exc}") from exc
        if not isinstance(document, dict):
            raise ConfigError(f"{config_path} must hold a JSON object")
        unknown = set(document) - {"seed", "host", "defaults", "agents"}
        if unknown:
            raise ConfigError(f"unknown top-level keys in {config_path}: {', '.join(sorted(unknown))}")
    defaults = document.get("defaults") or {}
    unknown = set(defaults) - {"timings", "faults", "key_algorithm", "profile"}
    if unknown:
        raise ConfigError(f"unknown keys in defaults: {', '.join(sorted(unknown))}")
    base_timings = _coerce(Timings, Timings(), defaults.get("timings", {}), "defaults.timings")
    base_faults = _coerce(Faults, Faults(), defaults.get("faults", {}), "defaults.faults")
    default_alg = defaults.get("key_algorithm", "ed25519")
    default_profile = profile or defaults.get("profile", "polite")

    entries = document.get("agents")
    if entries is None and demo:
        entries = [{}, {}, {}, DEMO_STRICT]  # ports base_port … base_port + 3
    if entries is None:
        entries = [{} for _ in range(agents)]
    if not isinstance(entries, list) or not entries:
        raise ConfigError("agents must be a non-empty list")
    result: list[AgentSettings] = []
    for index, entry in enumerate(entries):
        where = f"agents[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be an object")
        unknown = set(entry) - {"id", "port", "key_algorithm", "timings", "faults", "profile", "auth_tokens",
                                "accounts"}
        if unknown:
            raise ConfigError(f"unknown keys in {where}: {', '.join(sorted(unknown))}")
        agent_id = entry.get("id", f"sim_agent_{index + 1}")
        if not isinstance(agent_id, str) or not _AGENT_ID.match(agent_id):
            raise ConfigError(f"{where}.id must be 1-64 characters of [A-Za-z0-9_.:-]")
        port = entry.get("port", base_port + index)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ConfigError(f"{where}.port must be a TCP port")
        alg = entry.get("key_algorithm", default_alg)
        if alg not in KEY_ALGORITHMS:
            raise ConfigError(f"{where}.key_algorithm must be one of {', '.join(KEY_ALGORITHMS)}")
        profile_name = entry.get("profile", default_profile)
        if profile_name not in PROFILES:
            raise ConfigError(f"{where}.profile must be one of {', '.join(PROFILES)}")
        knobs = PROFILES[profile_name]
        timings = _coerce(Timings, base_timings, knobs.get("timings", {}), f"profile {profile_name}")
        faults = _coerce(Faults, base_faults, knobs.get("faults", {}), f"profile {profile_name}")
        tokens = entry.get("auth_tokens", [])
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
            raise ConfigError(f"{where}.auth_tokens must be a list of non-empty strings")
        result.append(
            AgentSettings(
                id=agent_id,
                port=port,
                key_algorithm=alg,
                timings=_coerce(Timings, timings, entry.get("timings", {}), f"{where}.timings"),
                faults=_coerce(Faults, faults, entry.get("faults", {}), f"{where}.faults"),
                profile=profile_name,
                auth_tokens=list(tokens),
                accounts=_accounts(entry.get("accounts", []), f"{where}.accounts"),
            )
        )
    for label, values in (("id", [a.id for a in result]), ("port", [a.port for a in result])):
        if len(set(values)) != len(values):
            raise ConfigError(f"two agents share an {label}")
    file_seed = document.get("seed", 0)
    if not isinstance(file_seed, int) or isinstance(file_seed, bool):
        raise ConfigError("seed must be an integer")
    return SimSettings(
        agents=result,
        seed=seed if seed is not None else file_seed,
        host=host or document.get("host") or "127.0.0.1",
    )
