"""The benchmark table's verdicts and ratios (bench/report.py): a figure passes or fails on its target."""

from __future__ import annotations

from bench.report import Figure, percentile, table


def test_an_at_least_target_passes_at_or_above_it_with_the_ratio_measured_over_target():
    assert Figure("b", "rate", 1200, "/s", 1000, ">=").verdict == "pass"
    assert Figure("b", "rate", 1200, "/s", 1000, ">=").ratio == 1.2
    assert Figure("b", "rate", 999, "/s", 1000, ">=").verdict == "FAIL"


def test_an_at_most_target_passes_at_or_below_it_with_the_ratio_target_over_measured():
    assert Figure("b", "p99", 20, "ms", 25, "<=").verdict == "pass"
    assert Figure("b", "p99", 50, "ms", 25, "<=").ratio == 0.5
    assert Figure("b", "p99", 50, "ms", 25, "<=").verdict == "FAIL"


def test_a_missing_measurement_fails_and_an_informational_figure_never_does():
    assert Figure("b", "crashed", None, target=0, check=">=").verdict == "FAIL"
    assert Figure("b", "memory", 600, "MB").verdict == "info"


def test_the_table_has_one_row_per_figure_with_its_verdict():
    rows = table([Figure("ingest", "accepted/s", 300, "/s", 400, ">=")]).splitlines()
    assert rows[0].startswith("| Benchmark | Figure | Target | Measured | Ratio | Result |")
    assert rows[2] == "| ingest | accepted/s | >= 400 /s | 300 /s | 0.75 | FAIL |"


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([], 99) is None
