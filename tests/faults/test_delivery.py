"""Delivery faults: the same stream delivered three times over and shuffled ends where in-order,
single delivery does; two workers on the same campaigns lose no update; two beats run each job once."""

from __future__ import annotations

from support.stream import CAMPAIGNS, build_stream, check_ledger, final_statuses, report, send, wait_settled


def test_duplicated_three_times_and_shuffled_ends_as_in_order_single_delivery(stack):
    clean = build_stream(stack["base_url"], seed=11, campaigns=CAMPAIGNS)
    answers = send(clean.events, order="interleaved")
    wait_settled(clean, answers)
    clean_figures = check_ledger(clean, answers)
    report("clean in-order run", clean_figures)

    messy = build_stream(stack["base_url"], seed=11, campaigns=CAMPAIGNS)  # same seed: same lifecycles
    answers = send(messy.events, order="shuffled", copies=3, seed=5)
    wait_settled(messy, answers)
    figures = check_ledger(messy, answers)
    report("duplicated x3 and shuffled", figures)

    assert figures["accepted"] == len(messy.events) == clean_figures["accepted"]
    assert figures["answers"].get("200", 0) == 2 * len(messy.events)  # each copy after the first: duplicate
    # buy by buy, in the order they were made: the same final status as the clean run's
    assert final_statuses(messy) == final_statuses(clean)
