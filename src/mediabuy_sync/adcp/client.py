"""adcp: talking ADCP to sales agents, worker side, through the official SDK.

The SDK is heavy (~15 s and ~560 MB to import the client), so this module is imported by the worker's
parent process before the pool forks (see worker/app.py), and never by the web. Every call has a
deadline; every failure becomes an AgentCallError of one of a few kinds that callers and logs use.

Real sellers are less tidy than the SDK's models (../shared/SELLERS.md): an MCP session the seller
forgot (it restarted) answers HTTP 404 "Session not found" — the call is retried once on a new session;
a get_media_buys answer without fields the SDK's typed models require (revision, confirmed_at, …) is
read leniently from the raw answer, each missing field reported to `deviation_hook` (the worker counts
them in a metric: this layer imports no metrics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from adcp import ADCPClient
from adcp.exceptions import ADCPConnectionError, ADCPError, ADCPTaskError, ADCPTimeoutError
from adcp.protocols import mcp as adcp_mcp
from adcp.types import (
    AgentConfig,
    CreateMediaBuyRequest,
    GetMediaBuyDeliveryRequest,
    GetMediaBuysRequest,
    SyncCreativesRequest,
    UpdateMediaBuyRequest,
)
from adcp.types.core import Protocol
from adcp.validation.client_hooks import ValidationHookConfig
from mcp.client.session import ClientSession
from pydantic import ValidationError

log = logging.getLogger(__name__)
T = TypeVar("T")

UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
AGENT_ERROR = "agent_error"
BAD_RESPONSE = "bad_response"


class AgentCallError(Exception):
    """A call to an agent that did not give a usable answer."""

    def __init__(self, kind: str, message: str, adcp_error: dict | None = None):
        super().__init__(f"{kind}: {message}")
        self.kind, self.message, self.adcp_error = kind, message, adcp_error

    def as_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "adcp_error": self.adcp_error}


@dataclass(frozen=True)
class Agent:
    id: str
    endpoint_uri: str
    protocol: str = "mcp"
    auth_token: str | None = None  # our token at this seller
    auth_header: str = "x-adcp-auth"  # the raw token in x-adcp-auth, or "authorization": Bearer <token>


# Called once per deviation from the protocol found in an agent's answer: (agent id, task, field).
# Set by the worker at start (worker/app.py) to its Prometheus counter; None: not counted.
deviation_hook: Callable[[str, str, str], None] | None = None

# The fields of a get_media_buys media buy that the SDK's typed model requires; what we need of them
# (id, status, packages) is read from the raw answer, the rest only counted when absent.
_REQUIRED_MEDIA_BUY_FIELDS = ("media_buy_id", "status", "currency", "total_budget", "confirmed_at", "revision",
                              "packages")
# Optional but expected: a seller that omits them (status_as_of orders reports) is counted too.
_EXPECTED_MEDIA_BUY_FIELDS = ("status_as_of",)


def _deviation(agent: Agent, task: str, field: str) -> None:
    if deviation_hook is not None:
        try:
            deviation_hook(agent.id, task, field)
        except Exception:  # noqa: BLE001 - counting must never fail a call
            log.exception("deviation hook failed")


@dataclass(frozen=True)
class PolledBuy:
    adcp_media_buy_id: str
    status: str  # the agent's ADCP media-buy status
    status_as_of: datetime | None
    confirmed: bool = True  # confirmed_at is set: the seller has committed to the buy
    packages: tuple[dict, ...] = ()


def _config(agent: Agent, timeout: float) -> AgentConfig:
    bearer = agent.auth_header == "authorization"
    return AgentConfig(
        id=agent.id,
        agent_uri=agent.endpoint_uri,
        protocol=Protocol(agent.protocol),
        auth_token=agent.auth_token,
        # a seller wants the raw token in x-adcp-auth (a "Bearer " prefix there is refused), or Bearer in Authorization
        auth_header="Authorization" if bearer else agent.auth_header,
        auth_type="bearer" if bearer else "token",
        timeout=timeout,
    )


# What we read of an answer is the SDK's typed response (pydantic): a malformed answer fails there, as
# BAD_RESPONSE. On top of that the SDK re-validates each request and answer against the protocol's
# JSON schemas, and the MCP client validates the answer once more against the tool's output schema,
# which it first fetches with tools/list (2.2 MB from an SDK-built agent, parsed once per session).
# Measured against bench/fake_agents.py, one get_media_buys of 100 buys: 47 ms of CPU with both
# schema passes, 9 ms without; an agent's first call (new session): 230-930 ms, 40-100 ms. Polling
# 100,000 buys is 1,000 such pages, so both passes are off; the typed parse stays.
_NO_SCHEMA_PASSES = ValidationHookConfig(requests="off", responses="off")


class _TypedResultsSession(ClientSession):
    """The SDK's MCP session without the output-schema pass (and so without its tools/list)."""

    async def validate_tool_result(self, name, result) -> None:
        return None


# The SDK opens its sessions through this module attribute; only its sessions are affected.
adcp_mcp._ClientSession = _TypedResultsSession

# One client per agent per process, kept across calls: a client's first call opens the MCP session
# and asks for the agent's capabilities, which every later call reuses. Keyed by everything the
# client is built from, so a changed endpoint or token gets a new one.
_clients: dict[tuple, ADCPClient] = {}


def _client_for(agent: Agent, timeout: float) -> ADCPClient:
    key = (agent.id, agent.endpoint_uri, agent.protocol, agent.auth_header, agent.auth_token)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = ADCPClient(_config(agent, timeout), validation=_NO_SCHEMA_PASSES)
    return client


async def _forget(agent: Agent) -> None:
    """Drop the agent's client after a transport failure: the next call starts a fresh session."""
    for key in [k for k in _clients if k[0] == agent.id]:
        client = _clients.pop(key)
        try:
            await asyncio.wait_for(client.close(), 2)
        except Exception:  # noqa: BLE001 - it is broken already; we only free what we can
            pass


# What an MCP server answers to a call on a session it does not know (the MCP spec: start a new one).
_SESSION_LOST = ("session not found", "session terminated")


def _session_lost(message: str | None) -> bool:
    return any(words in (message or "").lower() for words in _SESSION_LOST)


async def _call(agent: Agent, timeout: float, operation: str, call: Callable[[ADCPClient], Awaitable[Any]]) -> Any:
    """Run one task against an agent with a hard deadline; map every failure to an AgentCallError.

    A call that finds its MCP session gone (the agent restarted) is sent once more on a new session:
    the 404 means the agent never ran it, and mutating tasks carry idempotency keys anyway."""
    try:
        return await _call_once(agent, timeout, operation, call)
    except AgentCallError as exc:
        if not _session_lost(exc.message):
            raise
        log.info("agent %s forgot our MCP session (%s); retrying %s on a new one", agent.id, exc.message, operation)
    return await _call_once(agent, timeout, operation, call)


async def _call_once(agent: Agent, timeout: float, operation: str,
                     call: Callable[[ADCPClient], Awaitable[Any]]) -> Any:
    try:
        try:
            result = await asyncio.wait_for(call(_client_for(agent, timeout)), timeout)
        except (asyncio.TimeoutError, ADCPTimeoutError, ADCPConnectionError, OSError):
            await _forget(agent)
            raise
        except asyncio.CancelledError as exc:
            # The SDK's MCP transport lets a refused connection escape as its cancel scope's
            # CancelledError; only when nobody cancelled us is it that, and not a real cancellation.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            await _forget(agent)
            raise AgentCallError(UNREACHABLE, f"{operation}: could not connect to {agent.endpoint_uri}") from exc
        except ADCPError as exc:
            if _session_lost(str(exc)):
                await _forget(agent)
            raise
    except (asyncio.TimeoutError, ADCPTimeoutError) as exc:
        raise AgentCallError(TIMEOUT, f"{operation} took longer than {timeout:g} s") from exc
    except ADCPConnectionError as exc:
        raise AgentCallError(UNREACHABLE, f"{operation}: {exc.message}") from exc
    except ADCPTaskError as exc:
        raise AgentCallError(AGENT_ERROR, str(exc), {"codes": exc.error_codes}) from exc
    except (ValidationError, ValueError, TypeError) as exc:
        raise AgentCallError(BAD_RESPONSE, f"{operation}: {exc}") from exc
    except ADCPError as exc:
        raise AgentCallError(AGENT_ERROR, f"{operation}: {exc.message}") from exc
    except OSError as exc:
        raise AgentCallError(UNREACHABLE, f"{operation}: {exc}") from exc
    if not result.success or result.data is None:
        adcp_error = result.adcp_error
        if result.status in ("submitted", "working") and result.data is None:
            return result  # an async task: the caller reads status and task id
        if adcp_error is None and not (result.error or "").startswith("Failed to parse response"):
            # Not the agent's answer but our session's failure (a 404 for a forgotten session, a broken
            # stream): the next call starts a new session rather than failing on this one for ever.
            await _forget(agent)
        if adcp_error is None and result.error and "connect" in result.error.lower():
            raise AgentCallError(UNREACHABLE, f"{operation}: {result.error}")
        if adcp_error is None and (result.error or "").startswith("Failed to parse response"):
            raise AgentCallError(BAD_RESPONSE, f"{operation}: {result.error}")  # the SDK's typed parse refused it
        raise AgentCallError(AGENT_ERROR, f"{operation}: {result.error or result.message or result.status}", adcp_error)
    return result


async def get_media_buys(agent: Agent, adcp_media_buy_ids: list[str], timeout: float) -> list[PolledBuy]:
    """The agent's view of these buys: one call for the whole list.

    Read from the raw answer, not the SDK's typed one: a seller that omits `revision` or `confirmed_at`
    (required by the typed model) must not fail every poll. Each missing field is a counted deviation."""
    params = GetMediaBuysRequest(media_buy_ids=adcp_media_buy_ids).model_dump(mode="json", exclude_none=True)
    result = await _call(agent, timeout, "get_media_buys", lambda c: _raw_get_media_buys(c, params))
    return read_media_buys(agent, result.data)


async def _raw_get_media_buys(client: ADCPClient, params: dict) -> Any:
    """The adapter's answer before the typed parse; when the SDK's version conversion refuses it (a
    seller of an older minor omitting what the newer requires), the wire answer it kept."""
    result = await client.adapter.get_media_buys(params)
    wire = (result.metadata or {}).get("adcp_conversion_wire_response") if not result.success else None
    if isinstance(wire, dict):
        return result.model_copy(update={"data": wire, "success": True, "status": "completed", "error": None,
                                         "adcp_error": None})
    return result


def read_media_buys(agent: Agent, data: Any) -> list[PolledBuy]:
    """PolledBuys from a raw get_media_buys answer. What we need must be there and well formed (id,
    status; a status_as_of that is given must be a time): else BAD_RESPONSE naming the field, as the
    typed parse did. What is missing beyond that is read as absent and counted."""
    entries = data.get("media_buys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise AgentCallError(BAD_RESPONSE, "get_media_buys: media_buys: the answer has no list of media buys")
    polled = []
    for index, buy in enumerate(entries):
        where = f"get_media_buys: media_buys.{index}"
        if not isinstance(buy, dict):
            raise AgentCallError(BAD_RESPONSE, f"{where}: not an object")
        for field in ("media_buy_id", "status"):
            if not isinstance(buy.get(field), str) or not buy[field]:
                raise AgentCallError(BAD_RESPONSE, f"{where}.{field}: missing or not a string ({buy.get(field)!r})")
        status_as_of = _timestamp(buy.get("status_as_of"))
        if buy.get("status_as_of") is not None and status_as_of is None:
            raise AgentCallError(BAD_RESPONSE, f"{where}.status_as_of: not a time with a zone "
                                               f"({str(buy['status_as_of'])[:40]!r})")
        for field in _REQUIRED_MEDIA_BUY_FIELDS + _EXPECTED_MEDIA_BUY_FIELDS:
            if field not in buy:
                _deviation(agent, "get_media_buys", field)
        packages = buy.get("packages") if isinstance(buy.get("packages"), list) else []
        polled.append(PolledBuy(
            adcp_media_buy_id=buy["media_buy_id"],
            status=buy["status"],
            status_as_of=status_as_of,
            # absent is not null: a seller without the field says nothing about confirmation
            confirmed=buy.get("confirmed_at") is not None if "confirmed_at" in buy else True,
            packages=tuple({k: v for k, v in p.items() if v is not None} for p in packages if isinstance(p, dict)),
        ))
    return polled


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


async def _task(agent: Agent, timeout: float, operation: str, model: type, request: dict,
                lenient: tuple[str, ...] | None = None) -> dict:
    """One task; `lenient`: read the raw answer instead of the SDK's typed one, counting each of these
    fields a success answer lacks (a seller's update answered without `revision` is still an answer)."""
    try:
        typed = model.model_validate(request)
    except ValidationError as exc:  # our request is wrong: say so precisely, nothing was sent
        raise AgentCallError(BAD_RESPONSE, f"{operation} request invalid: {exc}") from exc
    if lenient is None:
        result = await _call(agent, timeout, operation, lambda c: getattr(c, operation)(typed))
        data = result.data.model_dump(mode="json", exclude_none=True) if result.data is not None else {}
    else:
        params = typed.model_dump(mode="json", exclude_none=True)
        result = await _call(agent, timeout, operation, lambda c: getattr(c.adapter, operation)(params))
        data = {k: v for k, v in result.data.items() if v is not None} if isinstance(result.data, dict) else {}
        if data.get("media_buy_id") and not data.get("errors") and not data.get("task_id"):
            for field in lenient:
                if field not in data:
                    _deviation(agent, operation, field)
    # Over MCP an async task's id comes in the answer's data; `submitted` is for other transports.
    task_id = data.get("task_id") or (getattr(result.submitted, "task_id", None) if result.submitted else None)
    return {"status": getattr(result.status, "value", result.status), "data": data, "task_id": task_id}


async def create_media_buy(agent: Agent, request: dict, timeout: float) -> dict:
    return await _task(agent, timeout, "create_media_buy", CreateMediaBuyRequest, request)


async def update_media_buy(agent: Agent, request: dict, timeout: float) -> dict:
    return await _task(agent, timeout, "update_media_buy", UpdateMediaBuyRequest, request, lenient=("revision",))


async def sync_creatives(agent: Agent, request: dict, timeout: float) -> dict:
    return await _task(agent, timeout, "sync_creatives", SyncCreativesRequest, request)


async def get_media_buy_delivery(agent: Agent, request: dict, timeout: float) -> dict:
    return await _task(agent, timeout, "get_media_buy_delivery", GetMediaBuyDeliveryRequest, request)


async def get_products(agent: Agent, timeout: float) -> list[dict]:
    """The seller's whole catalogue (get_products, wholesale: its products, not a curated brief), each
    product as it listed it: read from the raw answer, since a seller's products often carry more or
    less than the SDK's typed model (services/products.py reads what it needs of them)."""
    params = {"buying_mode": "wholesale"}
    result = await _call(agent, timeout, "get_products", lambda c: c.adapter.get_products(params))
    listed = result.data.get("products") if isinstance(result.data, dict) else getattr(result.data, "products", None)
    if not isinstance(listed, list):
        raise AgentCallError(BAD_RESPONSE, "get_products: the answer has no products list")
    products = [p if isinstance(p, dict) else p.model_dump(mode="json", exclude_none=True) for p in listed]
    return [p for p in products if isinstance(p.get("product_id"), str)]


async def sync_accounts(agent: Agent, accounts: list[dict], idempotency_key: str, timeout: float) -> list[dict]:
    """The seller's accounts for these brands ({brand: {domain}, operator, billing}), made where
    missing (sync_accounts is an upsert): each answer row as the seller gave it (raw)."""
    params = {"idempotency_key": idempotency_key, "accounts": accounts}
    result = await _call(agent, timeout, "sync_accounts", lambda c: c.adapter.sync_accounts(params))
    return _rows(result.data, "accounts", "sync_accounts")


async def list_accounts(agent: Agent, timeout: float) -> list[dict]:
    """The accounts the seller lets us use (raw rows)."""
    result = await _call(agent, timeout, "list_accounts", lambda c: c.adapter.list_accounts({}))
    return _rows(result.data, "accounts", "list_accounts")


def _rows(data: Any, key: str, operation: str) -> list[dict]:
    rows = data.get(key) if isinstance(data, dict) else getattr(data, key, None)
    if not isinstance(rows, list):
        raise AgentCallError(BAD_RESPONSE, f"{operation}: the answer has no {key} list")
    return [r if isinstance(r, dict) else r.model_dump(mode="json", exclude_none=True) for r in rows]


_loop: asyncio.AbstractEventLoop | None = None


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine on this process's event loop (Celery prefork tasks are synchronous)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(coro)
