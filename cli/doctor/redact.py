"""Secrets out of URLs and error text before the doctor prints them (the settings' one helper)."""

from __future__ import annotations

from core.settings import redact_url, url_secrets

__all__ = ["redact_text", "redact_url"]


def redact_text(text: str, url: str) -> str:
    """text with the secrets of url (if any) masked, e.g. in a driver's error message."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text
