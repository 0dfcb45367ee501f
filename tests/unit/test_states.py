"""Every state set the domain names as data is the one the schema allows: each StrEnum against the
CHECK constraint of its column in the migrations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mediabuy_sync.domain.audit import AuditAction, AuditTarget
from mediabuy_sync.domain.campaigns import CampaignStatus
from mediabuy_sync.domain.cascades import CASCADE_KINDS, CascadeState, ItemState
from mediabuy_sync.domain.inbox import InboxState
from mediabuy_sync.domain.notifications import DeliveryState, EventType, SubscriptionState
from mediabuy_sync.domain.packages import PackageStatus
from mediabuy_sync.domain.reports import Outcome, Source
from mediabuy_sync.domain.statuses import Status
from mediabuy_sync.domain.sync_runs import SyncRunKind, SyncRunSource, SyncRunState

MIGRATIONS = Path(__file__).resolve().parents[2] / "src" / "mediabuy_sync" / "store" / "migrations"
SCHEMA = "\n".join(p.read_text() for p in sorted(MIGRATIONS.glob("*.sql")))


def checked_values(table: str, column: str) -> set[str]:
    """The values CHECK (column IN (…)) allows: the last constraint a migration added, else the one in
    table's CREATE TABLE."""
    replaced = re.findall(rf"ALTER TABLE {table}\s+ADD CONSTRAINT \w+ CHECK \({column} IN \(([^)]*)\)\)", SCHEMA)
    if replaced:
        return set(re.findall(r"'([^']*)'", replaced[-1]))
    body = re.search(rf"CREATE TABLE {table} \((.*?)\n\);", SCHEMA, re.S).group(1)
    found = re.search(rf"\n\s+{column}\s[^,]*?CHECK \({column} IN \(([^)]*)\)\)", body)
    assert found, f"no CHECK on {table}.{column}"
    return set(re.findall(r"'([^']*)'", found.group(1)))


@pytest.mark.parametrize("table, column, values", [
    ("campaigns", "status", CampaignStatus),
    ("media_buys", "status", Status),
    ("packages", "status", PackageStatus),
    ("webhook_events", "state", InboxState),
    ("status_changes", "source", Source),
    ("status_changes", "outcome", Outcome),
    ("sync_runs", "kind", SyncRunKind),
    ("sync_runs", "source", SyncRunSource),
    ("sync_runs", "state", SyncRunState),
    ("cascades", "kind", CASCADE_KINDS),
    ("cascades", "state", CascadeState),
    ("cascade_items", "state", ItemState),
    ("notification_subscriptions", "state", SubscriptionState),
    ("notification_events", "event_type", EventType),
    ("notification_deliveries", "state", DeliveryState),
    ("admin_audit", "action", AuditAction),
    ("admin_audit", "target_type", AuditTarget),
])
def test_each_state_set_is_what_its_column_allows(table, column, values):
    assert {str(v) for v in values} == checked_values(table, column)
