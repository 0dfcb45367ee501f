"""Performance benchmarks of mediabuy-sync: `bench/run [--quick] [name…]` (see docs/performance.md)."""
