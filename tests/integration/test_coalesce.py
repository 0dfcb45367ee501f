"""The coalescing keys in a real Redis (queue/coalesce.py): one drain queued at a time; a campaign's
recompute at once when it is quiet, after its interval when it was just recomputed, never two pending."""

from __future__ import annotations

import secrets
import time

from mediabuy_sync.queue import coalesce


def test_a_quiet_campaign_now_a_busy_one_after_its_interval_never_two_pending():
    quiet, busy = "cmp_q_" + secrets.token_hex(4), "cmp_b_" + secrets.token_hex(4)

    assert coalesce.plan_recomputes([quiet, busy], 5.0) == ([quiet, busy], {})
    # pending (claimed, not yet released by the recompute): a change now asks for nothing more
    assert coalesce.plan_recomputes([busy], 5.0) == ([], {})
    # the recompute released the key as it read the buys; a change within the interval waits for its end
    coalesce.release(quiet, busy)
    now, later = coalesce.plan_recomputes([busy], 5.0)
    assert now == [] and list(later) == [busy] and 4.0 < later[busy] <= 5.0
    assert coalesce.plan_recomputes([busy], 5.0) == ([], {})  # that later one is pending: no second
    coalesce.release(busy)
    # an interval over: at once again
    other = "cmp_o_" + secrets.token_hex(4)
    assert coalesce.plan_recomputes([other], 0.05) == ([other], {})
    coalesce.release(other)
    time.sleep(0.1)
    assert coalesce.plan_recomputes([other], 0.05) == ([other], {})
