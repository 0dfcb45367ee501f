"""store: agent HMAC secrets and Bearer tokens, sealed at rest.

They cannot be hashed like API keys: we verify HMACs with them and send them to the agents in
push_notification_config. So they are sealed with Fernet (AES-128-CBC + HMAC-SHA256, authenticated)
under MEDIABUY_SECRETS_KEY: one or more comma-separated keys, the first encrypts, any one decrypts
(MultiFernet), so a key is rotated by prepending a new one and re-sealing (`mediabuy-sync secrets rotate`).
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ..config import settings

HOW_TO_SET = (
    "MEDIABUY_SECRETS_KEY is not set: it encrypts the agents' webhook secrets at rest and every process "
    "needs it. Locally, `eval \"$(mediabuy-sync services up)\"` (./dev does) exports one kept in "
    ".local/secrets.key; elsewhere set it to one or more comma-separated keys from `mediabuy-sync secrets new-key`."
)


class SecretsKeyMissing(RuntimeError):
    """No usable MEDIABUY_SECRETS_KEY: raised at start-up, not at the first webhook."""


def new_key() -> str:
    return Fernet.generate_key().decode()


@cache
def _box(keys: str) -> MultiFernet:
    parts = [part.strip() for part in keys.split(",") if part.strip()]
    if not parts:
        raise SecretsKeyMissing(HOW_TO_SET)
    try:
        return MultiFernet([Fernet(part) for part in parts])
    except ValueError as exc:  # not 32 url-safe base64-encoded bytes
        raise SecretsKeyMissing(f"MEDIABUY_SECRETS_KEY is not valid ({exc}); make one with "
                                "`mediabuy-sync secrets new-key`.") from None


def box() -> MultiFernet:
    """The keys of this process; SecretsKeyMissing when MEDIABUY_SECRETS_KEY is unset or malformed."""
    return _box(settings().secrets_key)


def require_key() -> None:
    """Fail now, with a message that says what to do, if this process could not read its secrets."""
    box()


def seal(secret: str) -> str:
    return box().encrypt(secret.encode()).decode()


def open_sealed(token: str) -> str:
    """The secret; SecretsKeyMissing if none of the keys sealed it (a key removed too early)."""
    try:
        return box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretsKeyMissing("A stored agent secret was sealed with none of the keys in MEDIABUY_SECRETS_KEY "
                                "(a key removed before `mediabuy-sync secrets rotate` re-sealed with the new one?).") from None


def reseal(token: str) -> str:
    """The same secret sealed with the first key (rotation)."""
    return box().rotate(token.encode()).decode()
