"""services: the buyer's actions on a campaign — execute, update, pause, reactivate, archive, an
advertiser's frequency caps. Each is checked against the campaign under its lock and applied locally in the
caller's transaction (a refusal raises Rejected and changes nothing); cascades then carry it to the
agents (cascades.py starts them and waits; services/cascade_jobs.py is a worker's share).

Flask-free and SDK-free: the web calls these with a connection inside its transaction."""

from .archive import archive
from .cascades import error_message, item_results, start, wait
from .common import Rejected, Started
from .dry_run import DryRun, dry_run
from .execute import execute, webhook_url
from .frequency_caps import set_advertiser_caps
from .pause import pause, reactivate
from .update import update

__all__ = ["archive", "DryRun", "Rejected", "Started", "dry_run", "error_message", "execute", "item_results", "pause", "reactivate",
           "set_advertiser_caps", "start", "update", "wait", "webhook_url"]
