"""domain/statuses.py against DESIGN.md's tables, row by row.

The expected tables below are an independent copy of DESIGN.md (not imported from the module), so a
drift in the module's data fails here.
"""

from __future__ import annotations

import itertools

import pytest

from mediabuy_sync.adcp import protocol
from mediabuy_sync.domain import statuses
from mediabuy_sync.domain.statuses import (
    MOST_RESTRICTIVE_FIRST,
    POLLED,
    PRECEDENCE,
    Status,
    from_delivery,
    from_media_buy,
    from_task,
    is_allowed,
)

# --- DESIGN.md, copied by hand -------------------------------------------------------------------

DESIGN_STATUSES = [
    "DRAFT", "PENDING_APPROVAL", "INPUT_REQUIRED", "ACTIVE", "PAUSED",
    "COMPLETED", "CANCELED", "FAILED", "REJECTED", "ARCHIVED",
]  # fmt: skip

DESIGN_ORDER = [
    "FAILED", "REJECTED", "INPUT_REQUIRED", "PENDING_APPROVAL", "DRAFT",
    "PAUSED", "ACTIVE", "COMPLETED", "CANCELED", "ARCHIVED",
]  # fmt: skip

# task statuses other than "completed" (which defers to the result's media-buy status)
DESIGN_TASK_ROWS = [
    ("submitted", "PENDING_APPROVAL"),
    ("working", "PENDING_APPROVAL"),
    ("input-required", "INPUT_REQUIRED"),
    ("auth-required", "INPUT_REQUIRED"),
    ("failed", "FAILED"),
    ("rejected", "REJECTED"),
    ("canceled", "CANCELED"),
    ("unknown", None),  # says nothing about the buy
]

DESIGN_MEDIA_BUY_ROWS = [
    ("pending_creatives", "INPUT_REQUIRED"),
    ("pending_activation", "PENDING_APPROVAL"),
    ("pending", "PENDING_APPROVAL"),
    ("pending_start", "ACTIVE"),
    ("active", "ACTIVE"),
    ("paused", "PAUSED"),
    ("completed", "COMPLETED"),
    ("rejected", "REJECTED"),
    ("canceled", "CANCELED"),
]

DESIGN_DELIVERY_ROWS = [
    ("failed", "FAILED"),
    ("reporting_delayed", None),  # no status change
]

DESIGN_TRANSITIONS = {
    # a create's own answer may be any status, synchronous or not
    "DRAFT": {"PENDING_APPROVAL", "INPUT_REQUIRED", "ACTIVE", "PAUSED", "REJECTED", "FAILED", "ARCHIVED"},
    "PENDING_APPROVAL": {"INPUT_REQUIRED", "ACTIVE", "PAUSED", "COMPLETED", "REJECTED", "FAILED", "CANCELED"},
    "INPUT_REQUIRED": {"PENDING_APPROVAL", "ACTIVE", "PAUSED", "REJECTED", "FAILED", "CANCELED"},
    "ACTIVE": {"PAUSED", "COMPLETED", "CANCELED", "FAILED", "INPUT_REQUIRED"},
    "PAUSED": {"ACTIVE", "COMPLETED", "CANCELED", "FAILED"},
    "FAILED": {"PENDING_APPROVAL", "INPUT_REQUIRED", "ACTIVE", "PAUSED", "REJECTED", "CANCELED", "ARCHIVED"},  # as DRAFT
    "REJECTED": {"PENDING_APPROVAL", "ARCHIVED"},
    "COMPLETED": {"ARCHIVED"},
    "CANCELED": {"ARCHIVED"},
    "ARCHIVED": set(),
}

DESIGN_POLLED = {"PENDING_APPROVAL", "INPUT_REQUIRED", "ACTIVE", "PAUSED"}


# --- statuses and order ----------------------------------------------------------------------------


def test_exactly_the_ten_statuses():
    assert sorted(s.value for s in Status) == sorted(DESIGN_STATUSES)
    assert len(Status) == 10


@pytest.mark.parametrize("name", DESIGN_STATUSES)
def test_status_value_is_its_name(name):
    # the value is what the database and the API store
    assert Status(name).value == name == Status[name].name


def test_most_restrictive_order_is_exact():
    assert [s.value for s in MOST_RESTRICTIVE_FIRST] == DESIGN_ORDER


@pytest.mark.parametrize(("rank", "name"), list(enumerate(DESIGN_ORDER)))
def test_precedence_rank(rank, name):
    assert PRECEDENCE[Status(name)] == rank


def test_precedence_covers_every_status_once():
    assert set(PRECEDENCE) == set(Status)
    assert sorted(PRECEDENCE.values()) == list(range(10))


# --- ADCP → internal -------------------------------------------------------------------------------


@pytest.mark.parametrize(("adcp", "internal"), DESIGN_TASK_ROWS)
def test_task_status_mapping(adcp, internal):
    expected = None if internal is None else Status(internal)
    assert from_task(adcp) == expected
    # a media-buy status in the result must not override a non-completed task status
    assert from_task(adcp, "active") == expected


@pytest.mark.parametrize(("adcp", "internal"), DESIGN_MEDIA_BUY_ROWS)
def test_completed_task_defers_to_media_buy_status(adcp, internal):
    assert from_task("completed", adcp) == Status(internal)


@pytest.mark.parametrize("missing", [None, ""])
def test_completed_task_without_media_buy_status_says_nothing(missing):
    assert from_task("completed", missing) is None


def test_task_mapping_covers_every_protocol_task_status():
    # every status the payload schema accepts must map, or ingest would raise KeyError
    assert {adcp for adcp, _ in DESIGN_TASK_ROWS} | {"completed"} == set(protocol.TASK_STATUSES)
    assert set(statuses.TASK_STATUS_TO_INTERNAL) == set(protocol.TASK_STATUSES)


@pytest.mark.parametrize(("adcp", "internal"), DESIGN_MEDIA_BUY_ROWS)
def test_media_buy_status_mapping(adcp, internal):
    assert from_media_buy(adcp) == Status(internal)


def test_media_buy_mapping_has_exactly_the_design_rows():
    assert dict(statuses.MEDIA_BUY_STATUS_TO_INTERNAL) == {a: Status(i) for a, i in DESIGN_MEDIA_BUY_ROWS}
    # the payload schema accepts exactly the statuses we can map
    assert set(protocol.MEDIA_BUY_STATUSES) == {a for a, _ in DESIGN_MEDIA_BUY_ROWS}


@pytest.mark.parametrize(("adcp", "internal"), DESIGN_DELIVERY_ROWS)
def test_delivery_status_mapping(adcp, internal):
    assert from_delivery(adcp) == (None if internal is None else Status(internal))


@pytest.mark.parametrize("adcp", sorted(set(protocol.DELIVERY_STATUSES) - {"failed", "reporting_delayed"}))
def test_other_delivery_statuses_map_like_media_buy_statuses(adcp):
    # DESIGN lists only failed / reporting_delayed; the rest of the delivery statuses share their
    # name with a media-buy status and must not mean something else
    assert from_delivery(adcp) == from_media_buy(adcp)


def test_delivery_mapping_covers_every_protocol_delivery_status():
    assert set(statuses.DELIVERY_STATUS_TO_INTERNAL) == set(protocol.DELIVERY_STATUSES)


@pytest.mark.parametrize(
    "call",
    [
        lambda: from_task("bogus"),
        lambda: from_task("COMPLETED"),  # case matters: ADCP values are lower-case
        lambda: from_task("completed", "bogus"),
        lambda: from_media_buy("bogus"),
        lambda: from_media_buy("ACTIVE"),
        lambda: from_delivery("bogus"),
        lambda: from_delivery("canceled"),  # a media-buy status, not a delivery one
    ],
)
def test_unknown_adcp_values_raise_key_error(call):
    with pytest.raises(KeyError):
        call()


# --- transitions -----------------------------------------------------------------------------------


def test_transition_table_rows_are_exactly_the_statuses():
    assert set(DESIGN_TRANSITIONS) == set(DESIGN_STATUSES)
    assert set(statuses.ALLOWED_TRANSITIONS) == set(Status)


@pytest.mark.parametrize(
    ("from_name", "to_name"), list(itertools.product(DESIGN_STATUSES, repeat=2)), ids=lambda v: v
)
def test_transition_matrix(from_name, to_name):
    # all 100 pairs: allowed exactly when DESIGN lists it
    expected = to_name in DESIGN_TRANSITIONS[from_name]
    assert is_allowed(Status(from_name), Status(to_name)) is expected


@pytest.mark.parametrize("name", DESIGN_STATUSES)
def test_no_self_transitions(name):
    # a same-status report is "unchanged", never a transition
    assert not is_allowed(Status(name), Status(name))


# --- polling ---------------------------------------------------------------------------------------


def test_polled_set():
    assert {s.value for s in POLLED} == DESIGN_POLLED


@pytest.mark.parametrize("name", DESIGN_STATUSES)
def test_polled_membership(name):
    assert (Status(name) in POLLED) is (name in DESIGN_POLLED)
