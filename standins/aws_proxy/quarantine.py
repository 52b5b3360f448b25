"""AWS's quarantine policies (`arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*`), attachable
to users through the proxy as on AWS.

moto attaches AWS-managed policies only when it loads all of them into every account
(MOTO_IAM_LOAD_MANAGED_POLICIES=true: about 0.3 s and many megabytes per account, too much for a
1,000-account organization), so the proxy keeps these few attachments itself: AttachUserPolicy and
DetachUserPolicy for them are answered here, and ListAttachedUserPolicies answers get them added.
"""

from __future__ import annotations

import threading
from xml.sax.saxutils import escape

from standins.aws_proxy import wire

QUARANTINE_ARN_PREFIX = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"
_ATTACH_ACTIONS = frozenset({"AttachUserPolicy", "DetachUserPolicy"})
_IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"


class QuarantinePolicies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attached: dict[tuple[str, str], set[str]] = {}

    def answer(self, call: wire.Request, account_id: str) -> wire.Answer | None:
        """The answer to attaching or detaching a quarantine policy; None for any other call."""
        arn = call.params.get("PolicyArn", "")
        if call.service != "iam" or call.action not in _ATTACH_ACTIONS or not arn.startswith(QUARANTINE_ARN_PREFIX):
            return None
        user = (account_id, call.params.get("UserName", ""))
        with self._lock:
            if call.action == "AttachUserPolicy":
                self._attached.setdefault(user, set()).add(arn)
            else:
                self._attached.get(user, set()).discard(arn)
        body = (
            f'<{call.action}Response xmlns="{_IAM_NAMESPACE}"><ResponseMetadata>'
            f"<RequestId>aws-fault-proxy</RequestId></ResponseMetadata></{call.action}Response>"
        )
        return 200, [("Content-Type", "text/xml")], body.encode()

    def amend(self, call: wire.Request, account_id: str, answer: wire.Answer) -> wire.Answer:
        """moto's ListAttachedUserPolicies answer with the user's quarantine policies added."""
        status, headers, payload = answer
        if call.service != "iam" or call.action != "ListAttachedUserPolicies" or status != 200:
            return answer
        with self._lock:
            arns = sorted(self._attached.get((account_id, call.params.get("UserName", "")), set()))
        if not arns:
            return answer
        members = "".join(_member(arn) for arn in arns)
        text = payload.decode()
        if "<AttachedPolicies/>" in text:
            text = text.replace("<AttachedPolicies/>", f"<AttachedPolicies>{members}</AttachedPolicies>", 1)
        elif "</AttachedPolicies>" in text:
            text = text.replace("</AttachedPolicies>", f"{members}</AttachedPolicies>", 1)
        else:
            closing = "</ListAttachedUserPoliciesResult>"
            text = text.replace(closing, f"<AttachedPolicies>{members}</AttachedPolicies>{closing}", 1)
        return status, [(k, v) for k, v in headers if k.lower() != "content-length"], text.encode()


def _member(arn: str) -> str:
    name = arn.rsplit("/", 1)[-1]
    return f"<member><PolicyName>{escape(name)}</PolicyName><PolicyArn>{escape(arn)}</PolicyArn></member>"
