"""domain: the pure rules — statuses, rollup, reports, polling, campaigns, budgets, goals — as data and
small functions; no I/O, and no import of anything of ours outside domain/."""
