"""store: periodic jobs claim their turn in PostgreSQL, so two beat processes still run a job once a period."""

from __future__ import annotations

import psycopg

from .db import queries

Q = queries("periodic")

# A job that ran less than this share of its interval ago is not run again. Below 1 so that one
# beat's own ticks (which drift a little) are never skipped; above 0.5 so that a second beat,
# whatever its phase, is.
_MIN_GAP = 0.8



def claim_turn(conn: psycopg.Connection, name: str, interval_seconds: float) -> bool:
    """True if this caller runs the job now; False if another beat's tick already did this period."""
    row = conn.execute(Q["claim_turn"], {"name": name, "min_gap": interval_seconds * _MIN_GAP}).fetchone()
    return row is not None
