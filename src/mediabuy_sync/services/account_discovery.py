"""services: the seller's account ids for our advertisers, discovered — sync_accounts with each
advertiser's brand (the seller answers the account it holds for the brand, or makes one), else
list_accounts matched by brand. Worker side (the ADCP SDK); an operator's mapping is never replaced."""

from __future__ import annotations

import logging
import uuid

from ..store import agents, campaigns
from ..store.db import transaction

log = logging.getLogger(__name__)


def discover(agent_id: str, timeout: float) -> dict[str, str]:
    """Ask the seller for each branded advertiser's account; returns {advertiser: account id} found.
    An advertiser with no brand (mediabuy-sync advertisers set-brand) cannot be matched."""
    from ..adcp import client  # the ADCP SDK: workers only
    from .polling import load_agent

    agent = load_agent(agent_id)
    with transaction() as conn:
        brands = campaigns.advertisers_with_brand(conn)
    if agent is None or not brands:
        return {}
    by_domain: dict[str, list[str]] = {}  # several advertisers may buy for one brand
    for advertiser, domain in brands.items():
        by_domain.setdefault(domain.lower(), []).append(advertiser)
    wanted = [{"brand": {"domain": domain}, "operator": domain, "billing": "advertiser"} for domain in sorted(by_domain)]
    try:
        rows = client.run(client.sync_accounts(agent, wanted, f"mbs-accounts-{uuid.uuid4()}", timeout))
    except client.AgentCallError as exc:  # a seller without sync_accounts may still list them
        log.info("sync_accounts of %s failed (%s); reading list_accounts", agent_id, exc)
        rows = client.run(client.list_accounts(agent, timeout))
    found = {}
    for row in rows:
        domain = str(((row.get("brand") or {}).get("domain")) or "").lower()
        if domain in by_domain and isinstance(row.get("account_id"), str):
            found.update({advertiser: row["account_id"] for advertiser in by_domain[domain]})
    with transaction() as conn:
        for advertiser, account_id in found.items():
            agents.set_account(conn, agent_id, advertiser, account_id, source="discovered")
    log.info("accounts of %s discovered for %d of %d branded advertisers", agent_id, len(found), len(brands))
    return found
