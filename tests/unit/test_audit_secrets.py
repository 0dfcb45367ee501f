"""The audit's change records never hold a secret: every secret field, at any depth, becomes whether it was set."""

from __future__ import annotations

from mediabuy_sync.domain.audit import without_secrets


def test_secret_fields_are_replaced_by_whether_they_were_set():
    change = {"endpoint": "https://seller.example/mcp", "secret": "s3cr3t-value", "auth_token": None,
              "nested": {"api_key": "mbsk_abc", "items": [{"token": "t0k"}]}, "credential_id": 7}

    assert without_secrets(change) == {"endpoint": "https://seller.example/mcp", "secret": True, "auth_token": False,
                                       "nested": {"api_key": True, "items": [{"token": True}]}, "credential_id": 7}
    assert "s3cr3t" not in repr(without_secrets(change)) and "mbsk_" not in repr(without_secrets(change))
