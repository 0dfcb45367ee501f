"""adcp: talking ADCP to sales agents, worker side, through the official SDK.

The SDK is heavy (~15 s and ~560 MB to import the client), so this module is imported by the worker's
parent process before the pool forks (see worker/app.py), and never by the web. Every call has a
deadline; every failure becomes an AgentCallError of one of a few kinds that callers and logs use.
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


async def _call(agent: Agent, timeout: float, operation: str, call: Callable[[ADCPClient], Awaitable[Any]]) -> Any:
    """Run one task against an agent with a hard deadline; map every failure to an AgentCallError."""
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
        if adcp_error is None and result.error and "connect" in result.error.lower():
            raise AgentCallError(UNREACHABLE, f"{operation}: {result.error}")
        if adcp_error is None and (result.error or "").startswith("Failed to parse response"):
            raise AgentCallError(BAD_RESPONSE, f"{operation}: {result.error}")  # the SDK's typed parse refused it
        raise AgentCallError(AGENT_ERROR, f"{operation}: {result.error or result.message or result.status}", adcp_error)
    return result


async def get_media_buys(agent: Agent, adcp_media_buy_ids: list[str], timeout: float) -> list[PolledBuy]:
    """The agent's view of these buys: one call for the whole list."""
    request = GetMediaBuysRequest(media_buy_ids=adcp_media_buy_ids)
    result = await _call(agent, timeout, "get_media_buys", lambda c: c.get_media_buys(request))
    try:
        return [
            PolledBuy(
                adcp_media_buy_id=buy.media_buy_id,
                status=getattr(buy.status, "value", buy.status),
                status_as_of=buy.status_as_of,
                confirmed=buy.confirmed_at is not None,
                packages=tuple(p.model_dump(mode="json", exclude_none=True) for p in (buy.packages or ())),
            )
            for buy in result.data.media_buys
        ]
    except AttributeError as exc:
        raise AgentCallError(BAD_RESPONSE, f"get_media_buys: {exc}") from exc


async def _task(agent: Agent, timeout: float, operation: str, model: type, request: dict) -> dict:
    try:
        typed = model.model_validate(request)
    except ValidationError as exc:  # our request is wrong: say so precisely, nothing was sent
        raise AgentCallError(BAD_RESPONSE, f"{operation} request invalid: {exc}") from exc
    result = await _call(agent, timeout, operation, lambda c: getattr(c, operation)(typed))
    data = result.data.model_dump(mode="json", exclude_none=True) if result.data is not None else {}
    # Over MCP an async task's id comes in the answer's data; `submitted` is for other transports.
    task_id = data.get("task_id") or (getattr(result.submitted, "task_id", None) if result.submitted else None)
    return {"status": getattr(result.status, "value", result.status), "data": data, "task_id": task_id}


async def create_media_buy(agent: Agent, request: dict, timeout: float) -> dict:
    return await _task(agent, timeout, "create_media_buy", CreateMediaBuyRequest, request)


async def update_media_buy(agent: Agent, request: dict, timeout: float) -> dict:
    return await _task(agent, timeout, "update_media_buy", UpdateMediaBuyRequest, request)


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


_loop: asyncio.AbstractEventLoop | None = None


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine on this process's event loop (Celery prefork tasks are synchronous)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(coro)
