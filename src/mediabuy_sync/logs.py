"""One logging setup for every process."""

from __future__ import annotations

import logging

from .config import settings


def configure_logging() -> None:
    root = logging.getLogger()
    if getattr(root, "_mediabuy_configured", False):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(settings().log_level)
    root._mediabuy_configured = True  # type: ignore[attr-defined]
