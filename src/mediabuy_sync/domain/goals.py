"""domain: optimization goals — which target kinds go with which goal kinds, and the metrics a seller knows."""

from __future__ import annotations

METRICS = frozenset({
    "clicks", "views", "completed_views", "viewed_seconds", "attention_seconds", "attention_score",
    "engagements", "follows", "saves", "profile_visits",
})

# goal kind → the target kinds it accepts
TARGETS_BY_GOAL_KIND: dict[str, frozenset[str]] = {
    "event": frozenset({"cost_per", "per_ad_spend", "maximize_value"}),
    "metric": frozenset({"cost_per", "threshold_rate"}),
}
# target kinds that carry no value (the seller maximizes)
VALUELESS_TARGETS = frozenset({"maximize_value"})


def goal_errors(goal: dict) -> list[str]:
    """What is wrong with one optimization goal (empty when it is valid)."""
    kind = goal.get("kind")
    if kind not in TARGETS_BY_GOAL_KIND:
        return [f"kind must be one of {sorted(TARGETS_BY_GOAL_KIND)}"]
    errors = []
    if kind == "event" and not goal.get("event_sources"):
        errors.append("an event goal needs event_sources")
    if kind == "metric" and goal.get("metric") not in METRICS:
        errors.append(f"metric must be one of {sorted(METRICS)}")
    target = goal.get("target")
    if target is not None:
        target_kind = target.get("kind")
        if target_kind not in TARGETS_BY_GOAL_KIND[kind]:
            errors.append(f"a {kind} goal takes targets {sorted(TARGETS_BY_GOAL_KIND[kind])}, not {target_kind!r}")
        elif target_kind in VALUELESS_TARGETS and target.get("value") is not None:
            errors.append(f"{target_kind} takes no value")
        elif target_kind not in VALUELESS_TARGETS and not _positive(target.get("value")):
            errors.append(f"{target_kind} needs a positive value")
    return errors


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def goals_diff(current: list[dict] | None, requested: list[dict]) -> dict:
    """A buy's goals before and after a request (no confirmation is asked for: confirming a change with
    the buyer is the caller's part; a PUT with dryRun shows this diff without changing anything)."""
    before = current or []
    return {"before": before, "after": requested, "changed": requested != before}
