"""adcp: the ADCP enumerations this service reads (from the protocol's 3.2 schemas)."""

TASK_TYPES = (
    "create_media_buy", "update_media_buy", "buy_products", "accept_proposal", "control_media_buy",
    "media_buy_delivery", "sync_creatives", "build_creative", "preview_creative", "get_creative_features",
    "activate_signal", "get_products", "request_proposals", "refine_proposals", "decline_proposals",
    "get_signals", "create_property_list", "update_property_list", "get_property_list",
    "list_property_lists", "delete_property_list", "sync_accounts", "get_account_financials",
    "get_creative_delivery", "sync_event_sources", "sync_audiences", "sync_catalogs", "log_event",
    "get_brand_identity", "search_brands", "get_rights", "acquire_rights", "update_rights",
    "sync_agent_notification_configs", "sync_principal", "get_principal", "sync_reporting_status",
    "sync_reporting_receipts",
)  # fmt: skip

TASK_STATUSES = (
    "submitted", "working", "input-required", "completed", "canceled", "failed", "rejected",
    "auth-required", "unknown",
)  # fmt: skip

MEDIA_BUY_STATUSES = (
    "pending_creatives", "pending_start", "active", "paused", "completed", "rejected", "canceled",
    "pending_activation", "pending",  # ADCP <= 2.5 and older agents
)  # fmt: skip

DELIVERY_STATUSES = ("pending", "active", "paused", "completed", "failed", "reporting_delayed")
DELIVERY_NOTIFICATION_TYPES = ("scheduled", "final", "delayed", "adjusted", "window_update")

# Task types whose webhooks say something about a media buy's lifecycle.
MEDIA_BUY_TASKS = ("create_media_buy", "update_media_buy")

CREATIVE_STATUSES = ("processing", "pending_review", "approved", "suspended", "rejected", "archived")
CREATIVE_ACTIONS = ("created", "updated", "unchanged", "failed", "deleted")
