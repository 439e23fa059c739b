"""Fernet key lists: one key or several separated by commas, as the key variables take them.

The first key encrypts and every one decrypts (``MultiFernet``), so a new key can be rolled out
while data under the old one still opens. Shared by the bot-token key
(REPORT_PIPELINES_SECRET_KEY) and the step-results key (REPORT_PIPELINES_RESULTS_KEY).
"""

from __future__ import annotations

from cryptography.fernet import Fernet


def fernet_keys(value: str | bytes) -> list[Fernet]:
    """The keys in ``value``, in order; ValueError when one is not a valid Fernet key."""
    text = value.decode() if isinstance(value, bytes) else value
    keys = [Fernet(part.strip().encode()) for part in text.split(",") if part.strip()]
    if not keys:
        raise ValueError("no key given")
    return keys
