"""services: what every campaign action shares — the campaign read under its lock, the refusal that
changes nothing, the result the web answers with, and the update_media_buy fields they build."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg

from ...adcp import requests as adcp
from ...domain.cascades import AT_AGENT
from ...domain.lifecycle import flight_error
from ...domain.packages import PackageStatus
from ...domain.statuses import Status
from ...store import agents, campaign_state
from ...store.campaign_state import CampaignState


class Rejected(Exception):
    """An action that can't be taken; nothing was changed. `fields`: {dotted path: [messages]}."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, list[str]] | None = None,
                 details: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields, self.details = status, code, message, fields, details


@dataclass
class Started:
    """An action applied locally; its cascades (if any) run on the workers."""

    campaign_id: str
    previous_status: str
    new_status: str
    cascade_ids: list[int] = field(default_factory=list)
    # buys the action changed here without calling an agent (a delete, a DRAFT buy's update)
    local_results: list[dict] = field(default_factory=list)
    # buys it could not send to their agent, and why: {mediaBuyId, salesAgentId, message}
    not_sent: list[dict] = field(default_factory=list)
    # what each cascade carries: (its kind, its items) — what a dry run shows
    planned: list[tuple[str, list]] = field(default_factory=list)


def seller_accounts(conn: psycopg.Connection, state: CampaignState) -> dict[str, str | None]:
    """{agent id: the account id its calls about this campaign send} for the campaign's agents: the
    seller's id of the advertiser's account there, or our advertiser id where the seller takes it;
    None where the seller assigns its own and none is set yet."""
    agent_ids = sorted({b["sales_agent_id"] for b in state.buys} | {p["sales_agent_id"] for p in state.products})
    return agents.accounts_for_calls(conn, state.campaign["advertiser_id"], agent_ids)


def account_for(accounts: dict[str, str | None], buy: dict, advertiser_id: str) -> str:
    """The account an update about a buy the seller holds sends: its mapping (a buy made under a mapping
    since removed still names our advertiser, which is the best left to say)."""
    return accounts.get(buy["sales_agent_id"]) or advertiser_id


def locked(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> CampaignState:
    state = campaign_state.lock(conn, campaign_id, advertiser_id)
    if state is None:
        # the same answer whether the campaign is another advertiser's or does not exist
        raise Rejected(404, "NOT_FOUND", f"Campaign {campaign_id!r} not found.")
    return state


def status_rejected(action: str, status: str, allowed) -> Rejected:
    message = f"A {status} campaign cannot be {action}; allowed from {', '.join(sorted(allowed))}."
    return Rejected(422, "VALIDATION_ERROR", message, {"status": [message]}, {"status": status})


def flight_over(state: CampaignState, action: str) -> None:
    """Refuse an action that would set buys delivering after the flight's end (execute, reactivate):
    the agents would refuse or deliver outside the dates the buyer bought. Before the start is fine:
    the buys wait for it at their agents."""
    c = state.campaign
    error = flight_error(c["flight_start"], c["flight_end"], datetime.now(timezone.utc))
    if error:
        message = f"The campaign cannot be {action}: {error}."
        raise Rejected(422, "VALIDATION_ERROR", message, {"flightDates.endDate": [message]},
                       {"flightDates": {"startDate": c["flight_start"].isoformat() if c["flight_start"] else None,
                                        "endDate": c["flight_end"].isoformat()}})


def live_packages(buy: dict) -> list[dict]:
    return [p for p in buy["packages"] if p["status"] != PackageStatus.CANCELED]


def at_agent(buy: dict) -> bool:
    return Status(buy["status"]) in AT_AGENT


def local_result(buy: dict, status: str) -> dict:
    """A buy changed here without calling its agent, as mediaBuyResults[] shows it."""
    return {"mediaBuyId": buy["id"], "salesAgentId": buy["sales_agent_id"], "previousStatus": buy["status"],
            "status": status, "success": True}


def frequency_cap_fields(caps: list[dict]) -> dict:
    cap = adcp.frequency_cap(caps)
    # no caps left: an empty list in ext says so (ADCP has no way to remove a cap)
    return {"frequency_cap": cap, "ext": {"frequency_caps": caps}} if cap else {"ext": {"frequency_caps": []}}


def merge_fields(fields: dict, more: dict) -> None:
    """Add update_media_buy fields; `ext` objects are merged, not replaced."""
    for key, value in more.items():
        if key == "ext" and isinstance(fields.get("ext"), dict):
            fields["ext"] = {**fields["ext"], **value}
        else:
            fields[key] = value
