"""The campaign rollup: most restrictive status across the buys, and the buys that decide it."""

from __future__ import annotations

import itertools

import pytest

from mediabuy_sync.domain.rollup import Rollup, most_restrictive, rollup
from mediabuy_sync.domain.statuses import Status

S = Status

# DESIGN.md's order, copied so that the test does not trust the module's own list
ORDER = [
    S.FAILED, S.REJECTED, S.INPUT_REQUIRED, S.PENDING_APPROVAL, S.DRAFT,
    S.PAUSED, S.ACTIVE, S.COMPLETED, S.CANCELED, S.ARCHIVED,
]  # fmt: skip


def test_seed_example_active_and_pending_approval():
    result = rollup([("mb-active", S.ACTIVE), ("mb-pending", S.PENDING_APPROVAL)])
    assert result == Rollup(S.PENDING_APPROVAL, ("mb-pending",))


def test_active_and_canceled_surfaces_active():
    result = rollup([("mb-canceled", S.CANCELED), ("mb-active", S.ACTIVE)])
    assert result == Rollup(S.ACTIVE, ("mb-active",))


def test_all_canceled_surfaces_canceled():
    result = rollup([("mb-2", S.CANCELED), ("mb-1", S.CANCELED)])
    assert result == Rollup(S.CANCELED, ("mb-1", "mb-2"))


@pytest.mark.parametrize("empty", [[], (), iter(())])
def test_no_buys_no_status_no_blockers(empty):
    assert rollup(empty) == Rollup(None, ())


def test_single_buy():
    assert rollup([("mb-1", S.DRAFT)]) == Rollup(S.DRAFT, ("mb-1",))


def test_ties_give_every_tied_buy_sorted():
    buys = [("mb-c", S.FAILED), ("mb-x", S.ACTIVE), ("mb-a", S.FAILED), ("mb-b", S.FAILED)]
    assert rollup(buys) == Rollup(S.FAILED, ("mb-a", "mb-b", "mb-c"))


def test_blockers_are_a_tuple():
    # frozen dataclass output must be hashable / comparable
    assert isinstance(rollup([("mb-1", S.ACTIVE)]).blockers, tuple)


def test_accepts_status_strings():
    # rows from the database carry plain strings
    assert rollup([("mb-1", "ACTIVE"), ("mb-2", "PAUSED")]) == Rollup(S.PAUSED, ("mb-2",))


def test_generator_input_is_consumed_once():
    assert rollup(pair for pair in [("mb-1", S.ACTIVE), ("mb-2", S.REJECTED)]) == Rollup(S.REJECTED, ("mb-2",))


MIX = [
    ("mb-1", S.ACTIVE),
    ("mb-2", S.INPUT_REQUIRED),
    ("mb-3", S.CANCELED),
    ("mb-4", S.INPUT_REQUIRED),
    ("mb-5", S.PAUSED),
]


def test_order_independence():
    # the same buys in any row order give the same answer, blockers included
    expected = Rollup(S.INPUT_REQUIRED, ("mb-2", "mb-4"))
    for permutation in itertools.permutations(MIX):
        assert rollup(permutation) == expected, permutation


@pytest.mark.parametrize(("first", "second"), list(itertools.product(ORDER, repeat=2)), ids=str)
def test_every_pair_surfaces_the_earlier_in_the_order(first, second):
    winner = first if ORDER.index(first) <= ORDER.index(second) else second
    result = rollup([("mb-first", first), ("mb-second", second)])
    assert result.status is winner
    expected_blockers = tuple(
        buy for buy, status in (("mb-first", first), ("mb-second", second)) if status is winner
    )
    assert result.blockers == expected_blockers


# most_restrictive: what the store asks once PostgreSQL has counted the buys per status


@pytest.mark.parametrize(("first", "second"), list(itertools.product(ORDER, repeat=2)), ids=str)
def test_most_restrictive_agrees_with_the_rollup_on_every_pair(first, second):
    assert most_restrictive([first, second]) is rollup([("a", first), ("b", second)]).status


def test_most_restrictive_of_nothing_is_none_and_takes_plain_strings():
    assert most_restrictive([]) is None
    assert most_restrictive(["ACTIVE", "PAUSED", "CANCELED"]) is S.PAUSED
