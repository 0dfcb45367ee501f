"""sim: the agent's accounts — the SDK's account store for the simulated seller.

Polite (knob seller_accounts off): one account for every caller, whatever `account` says, as before.
Strict: accounts are the seller's. `sync_accounts` assigns an id per (brand domain, operator) and
answers it; `list_accounts` lists them; the agent's config can preconfigure some (per brand domain);
any call whose `account` is not one of them — by `account_id`, or by `brand` + `operator` — answers
ACCOUNT_NOT_FOUND, as a real seller answers a buyer's own advertiser id.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from adcp.decisioning import SingletonAccounts
from adcp.decisioning.types import Account, AdcpError, SyncAccountsResultRow

if TYPE_CHECKING:
    from .agent import SimAgent

# Put in place of an update's missing `account` before the SDK parses it (its model requires one, the
# strict seller refuses one): resolves to the caller's principal, and is not a field the buyer sent.
UNSENT_ACCOUNT = "__sim_unsent_account__"


class SimAccounts:
    """resolve / upsert (sync_accounts) / list (list_accounts) over the agent's account table."""

    resolution: ClassVar[str] = "explicit"

    def __init__(self, agent: SimAgent):
        self.agent = agent
        self._polite = SingletonAccounts(account_id=agent.settings.id, name=agent.settings.id)
        # account_id -> {"account_id", "brand": {"domain"}, "operator", "name"}
        self.table: dict[str, dict[str, Any]] = {a["account_id"]: dict(a) for a in agent.settings.accounts}

    @property
    def strict(self) -> bool:
        return self.agent.faults.seller_accounts

    def _by_natural_key(self, brand: dict | None, operator: str | None) -> dict[str, Any] | None:
        domain = str((brand or {}).get("domain") or "").lower()
        for account in self.table.values():
            if account["brand"]["domain"] == domain and (operator is None or account["operator"] == operator):
                return account
        return None

    @staticmethod
    def _account(row: dict[str, Any], auth_info: Any = None) -> Account:
        return Account(id=row["account_id"], name=row["name"], status="active",
                       metadata={"brand": row["brand"], "operator": row["operator"]})

    def resolve(self, ref: dict[str, Any] | None = None, auth_info: Any = None) -> Account | None:
        if not self.strict:
            return self._polite.resolve(ref, auth_info)
        if not ref or ref.get("account_id") == UNSENT_ACCOUNT:
            # No `account`: the caller's principal, as a token-scoped seller reads it (polls and updates
            # need none there); create insists on one (seller.py).
            return Account(id=f"{self.agent.settings.id}:principal", name="principal", status="active",
                           metadata={})
        row = None
        if ref.get("account_id"):
            row = self.table.get(str(ref["account_id"]))
        elif ref.get("brand"):
            row = self._by_natural_key(ref.get("brand"), ref.get("operator"))
        if row is None:
            self.agent.stats["accounts_not_found"] += 1
            named = ref.get("account_id") or (ref.get("brand") or {}).get("domain")
            raise AdcpError("ACCOUNT_NOT_FOUND", field="account",  recovery="correctable",
                            message=f"Account {named!r} not found: use an account_id from sync_accounts or "
                                    "list_accounts.")
        return self._account(row)

    def upsert(self, refs: list[Any], ctx: Any = None) -> list[SyncAccountsResultRow]:
        rows = []
        for ref in refs:
            wire = ref.model_dump(mode="json", exclude_none=True) if hasattr(ref, "model_dump") else dict(ref)
            brand = wire.get("brand") or {}
            domain = str(brand.get("domain") or "").lower()
            operator = wire.get("operator") or domain
            found = self._by_natural_key({"domain": domain}, operator)
            action = "unchanged"
            if found is None:
                account_id = f"acc_{self.agent.settings.id}_{secrets.token_hex(3)}"
                found = self.table[account_id] = {"account_id": account_id, "brand": {"domain": domain},
                                                  "operator": operator, "name": f"{domain} via {operator}"}
                action = "created"
                self.agent.stats["accounts_created"] += 1
            rows.append(SyncAccountsResultRow(brand=brand or {"domain": domain}, operator=operator, action=action,
                                              status="active", account_id=found["account_id"],
                                              name=found["name"]))
        return rows

    def list(self, filter: dict[str, Any] | None = None, ctx: Any = None) -> list[Account]:
        if not self.strict:
            return [self._polite.resolve(None, None)]
        return [self._account(row) for row in self.table.values()]

    def public(self) -> list[dict[str, Any]]:
        """For GET /_sim/accounts."""
        return list(self.table.values())
