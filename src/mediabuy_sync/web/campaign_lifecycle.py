"""web: the end of a campaign's lifecycle (/api/v2/buyer) — archive it once nothing of it is live.

(Its flight's end turns it COMPLETED on its own: services/rollups.py.)"""

from __future__ import annotations

from marshmallow import Schema, fields

from ..domain.campaigns import CAMPAIGN_STATUSES
from ..domain.statuses import Status
from ..services import campaigns as actions
from .auth import buyer_blueprint
# one rule for every action: a refusal is the error envelope and changes nothing
from .campaign_actions import MediaBuyResult, _act

bp = buyer_blueprint("buyer_lifecycle", __name__, description="Campaign lifecycle: archive.")


class ArchiveAnswer(Schema):
    campaignId = fields.String(required=True)
    previousStatus = fields.String(required=True, metadata={"enum": list(CAMPAIGN_STATUSES),
                                                            "description": "The lifecycle status before."})
    newStatus = fields.String(required=True, metadata={"enum": ["ARCHIVED"]})
    status = fields.String(required=True, metadata={"enum": [s.value for s in Status],
                                                    "description": "The status the campaign reports now."})
    mediaBuyResults = fields.List(fields.Nested(MediaBuyResult), required=True,
                                  metadata={"description": "Each media buy archived with it."})


ARCHIVE_EXAMPLE = {
    "data": {"campaignId": "cmp_1", "previousStatus": "COMPLETED", "newStatus": "ARCHIVED", "status": "ARCHIVED",
             "mediaBuyResults": [{"mediaBuyId": "mb_1", "salesAgentId": "agent_news", "previousStatus": "COMPLETED",
                                  "status": "ARCHIVED", "success": True}]},
    "error": None,
}


@bp.route("/campaigns/<id:campaign_id>/archive", methods=["POST"])
@bp.response(200, ArchiveAnswer, example=ARCHIVE_EXAMPLE)
@bp.alt_response(404, "NOT_FOUND")
@bp.alt_response(409, "CONFLICT")
def archive(campaign_id: str):
    """Archive a campaign

    A soft delete: the campaign's lifecycle turns ARCHIVED and each of its media buys that is over
    (COMPLETED, CANCELED, FAILED, REJECTED) or was never submitted (DRAFT) is archived with it; no
    agent is called. Refused (409 CONFLICT, naming them in details.liveMediaBuys) while a media buy is
    still live at its agent (PENDING_APPROVAL, INPUT_REQUIRED, ACTIVE, PAUSED): cancel those or let them
    complete first. Archived campaigns leave the list unless it is asked for ARCHIVED.
    """
    started = _act(actions.archive, campaign_id)
    return {"campaignId": campaign_id, "previousStatus": started.previous_status, "newStatus": started.new_status,
            # its buys archived with it, or none: either way the campaign now reports ARCHIVED
            "status": Status.ARCHIVED,
            "mediaBuyResults": sorted(started.local_results, key=lambda r: r["mediaBuyId"])}
