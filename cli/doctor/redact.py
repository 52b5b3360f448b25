"""Passwords out of URLs and error text before the doctor prints them."""

from __future__ import annotations

from urllib.parse import urlparse


def redact_url(url: str) -> str:
    password = urlparse(url).password
    return url.replace(f":{password}@", ":***@") if password else url


def redact_text(text: str, url: str) -> str:
    """text with the password of url (if any) masked, e.g. in a driver's error message."""
    password = urlparse(url).password
    return text.replace(password, "***") if password else text
