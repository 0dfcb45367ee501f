"""services: execute a campaign — make its media buys at the first execute (and, at a re-execute, those
of sales agents whose products were added since), then submit every DRAFT, FAILED or REJECTED one to
its agent with create_media_buy: a re-execute retries the failed buys and resubmits the rejected ones
(after the buyer changed what the seller declined), and leaves the others alone."""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg

from ...adcp import requests as adcp
from ...config import settings
from ...domain.campaigns import EXECUTABLE_FROM, CampaignStatus
from ...domain.cascades import EXECUTED
from ...domain.creatives import creatives_for
from ...domain.frequency_caps import merged_frequency_caps
from ...domain.statuses import Status
from ...store import agents, campaign_state, campaigns, cascades, media_buys
from ...store.cascades import NewItem
from .. import products as catalogues
from .common import Rejected, Started, flight_over, live_packages, locked, seller_accounts, status_rejected


def webhook_url(agent_id: str) -> str:
    """Where an agent posts its webhooks about our buys."""
    s = settings()
    base = s.public_base_url.rstrip("/")
    if not base:
        host, _, port = s.web_bind.rpartition(":")
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '', '[::]') else host}:{port}"
    return f"{base}/webhooks/adcp/{agent_id}"


def _first(errors: dict[str, list[str]]) -> str:
    field = next(iter(errors))
    return f"{field}: {errors[field][0]}"


def execute(conn: psycopg.Connection, campaign_id: str, advertiser_id: str) -> Started:
    """Make the buys at the first execute, then submit every DRAFT or FAILED one (a re-execute
    retries only the failed ones). A DRAFT campaign is ACTIVE from now on, whatever the agents say."""
    state = locked(conn, campaign_id, advertiser_id)
    previous = state.campaign["status"]
    if previous not in EXECUTABLE_FROM:
        raise status_rejected("executed", previous, EXECUTABLE_FROM)
    flight_over(state, "executed")
    if not state.buys and not state.products:
        raise Rejected(422, "VALIDATION_ERROR", "The campaign selects no products: there is nothing to execute.",
                       {"products": ["No products selected."]})
    if {p["sales_agent_id"] for p in state.products} - {b["sales_agent_id"] for b in state.buys}:
        # the first execute, or products of new sales agents added since (PUT products)
        campaign_state.create_buys(conn, state)
        state = locked(conn, campaign_id, advertiser_id)
    in_flight = cascades.buys_being_submitted(conn, campaign_id)
    targets = [b for b in state.buys if Status(b["status"]) in EXECUTED and b["id"] not in in_flight]
    if targets and not (state.campaign["flight_start"] and state.campaign["flight_end"]):
        # a campaign made over buys the agents already had (`mediabuy-sync campaigns create`) has no plan
        raise Rejected(422, "VALIDATION_ERROR", "The campaign has no flight dates: its media buys can't be submitted.",
                       {"flightDates": ["Missing."]})
    # each product against its seller's catalogue, again (it may have changed since the campaign was made)
    refused, options = catalogues.check_plan(conn, state.products)
    if refused:
        raise Rejected(422, "VALIDATION_ERROR", _first(refused), refused)
    option_of = {(p["sales_agent_id"], p["product_id"]): options[i] for i, p in enumerate(state.products)}
    accounts = seller_accounts(conn, state)
    not_sent = [{"mediaBuyId": b["id"], "salesAgentId": b["sales_agent_id"],
                 "message": f"No account at sales agent {b['sales_agent_id']!r} for advertiser {advertiser_id!r}: the "
                            f"seller assigns its own account ids; set one (`mediabuy-sync agents accounts "
                            f"{b['sales_agent_id']} --advertiser {advertiser_id} --account <id>` or PUT "
                            f"/admin/agents/{b['sales_agent_id']}/accounts/{advertiser_id}) and execute again."}
                for b in targets if accounts.get(b["sales_agent_id"]) is None]
    targets = [b for b in targets if accounts.get(b["sales_agent_id"]) is not None]
    unpriced = {b["id"]: sorted(p["product_id"] for p in live_packages(b)
                                if option_of.get((b["sales_agent_id"], p["product_id"])) is None) for b in targets}
    not_sent += [{"mediaBuyId": b["id"], "salesAgentId": b["sales_agent_id"],
                  "message": f"No pricing option for {', '.join(unpriced[b['id']])}: sales agent {b['sales_agent_id']!r} "
                             f"lists no products to take one from; name the seller's (pricingOptionId)."}
                 for b in targets if unpriced[b["id"]]]
    targets = [b for b in targets if not unpriced[b["id"]]]
    now = datetime.now(timezone.utc)
    caps = merged_frequency_caps(state.campaign["frequency_caps"], campaigns.advertiser_caps(conn, advertiser_id))
    push = agents.push_credentials(conn, sorted({b["sales_agent_id"] for b in targets}))
    products = {(p["sales_agent_id"], p["product_id"]): p for p in state.products}
    brand_domain = campaigns.advertiser_brand(conn, advertiser_id) or settings().brand_domain
    items = []
    for buy in targets:
        agent = push.get(buy["sales_agent_id"]) or {"inbound_scheme": "rfc9421", "credential_id": None}
        packages = []
        for p in live_packages(buy):
            product = products.get((buy["sales_agent_id"], p["product_id"])) or {}
            packages.append(adcp.NewPackage(
                package_id=p["id"], product_id=p["product_id"],
                pricing_option_id=option_of[(buy["sales_agent_id"], p["product_id"])],
                budget=p["budget"], pacing=p["pacing"], bid_price=p["bid_price"], start=p["start_time"], end=p["end_time"],
                creative_ids=creatives_for(product.get("formats") or (), state.manifest, buy["creative_ids"])))
        goals = buy["optimization_goals"] if buy["optimization_goals"] is not None else state.campaign["optimization_goals"]
        request = adcp.create_media_buy(
            buy_id=buy["id"], campaign=state.campaign, account_id=accounts[buy["sales_agent_id"]], packages=packages,
            goals=goals or [], caps=caps,
            push=adcp.push_notification_config(webhook_url(buy["sales_agent_id"]), buy["id"], agent["inbound_scheme"],
                                               agent["credential_id"]),
            reporting=adcp.reporting_webhook(webhook_url(buy["sales_agent_id"]), buy["id"], agent["inbound_scheme"],
                                             agent["credential_id"]),
            brand_domain=brand_domain, now=now)
        if previous == CampaignStatus.PAUSED:  # a buy (re)submitted under a paused campaign starts paused
            request["paused"] = True
        items.append(NewItem(buy["id"], buy["sales_agent_id"], buy["status"], request))
    media_buys.forget_adcp_ids(conn, [b["id"] for b in targets])
    new_status = CampaignStatus.ACTIVE if previous == CampaignStatus.DRAFT else previous
    started = Started(campaign_id, previous, new_status, not_sent=not_sent)
    if items:
        started.cascade_ids.append(cascades.create(conn, campaign_id, "execute", items))
    campaigns.set_status(conn, campaign_id, started.new_status, executed=True)
    return started
