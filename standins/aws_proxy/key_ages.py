"""Old keys on demand: moto stamps a key with the time it was made and has no way to change it,
so the proxy moves chosen keys' `CreateDate` back in ListAccessKeys answers (`backdate_key`).
Everything that reads IAM through the proxy (the sweep, a lookup) then sees a key that old, as
it would see a key made months ago on AWS.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

from standins.aws_proxy import wire

_MEMBER = re.compile(r"<member>.*?</member>", re.DOTALL)
_KEY_ID = re.compile(r"<AccessKeyId>([^<]+)</AccessKeyId>")
_CREATED = re.compile(r"<CreateDate>([^<]+)</CreateDate>")


class KeyAges:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._back: dict[str, timedelta] = {}

    def backdate(self, key_id: str, days: float) -> None:
        """Answer for `key_id` as if it were made `days` earlier than moto says (0: as moto says)."""
        with self._lock:
            if days:
                self._back[key_id] = timedelta(days=days)
            else:
                self._back.pop(key_id, None)

    def amend(self, call: wire.Request, answer: wire.Answer) -> wire.Answer:
        """A ListAccessKeys answer with the backdated keys' creation dates moved back."""
        status, headers, payload = answer
        if call.service != "iam" or call.action != "ListAccessKeys" or status != 200:
            return answer
        with self._lock:
            back = dict(self._back)
        if not back:
            return answer

        def member(match: re.Match[str]) -> str:
            block = match.group(0)
            key = _KEY_ID.search(block)
            shift = back.get(key.group(1)) if key else None
            if shift is None:
                return block
            return _CREATED.sub(lambda m: f"<CreateDate>{_earlier(m.group(1), shift)}</CreateDate>", block)

        text = _MEMBER.sub(member, payload.decode())
        return status, [(k, v) for k, v in headers if k.lower() != "content-length"], text.encode()


def _earlier(stamp: str, shift: timedelta) -> str:
    try:
        created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        created = datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (created - shift).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
