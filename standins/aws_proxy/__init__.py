"""The AWS stand-in in front of a moto server: fault injection and an offline CloudTrail.

proxy.py forwards to moto and injects faults; recorder.py records what passes through as CloudTrail
would; cloudtrail.py answers LookupEvents from those records; callers.py knows whose each access
key is; strict_iam.py answers as strictly as real IAM where moto is lenient; role_policies.py holds
the sessions of whose-key's own roles to what deploy/ grants them; wire.py reads and
writes AWS's wire format; quarantine.py keeps the AWS-managed quarantine policies attached to
users (moto attaches AWS-managed policies only when it loads them all); key_ages.py makes chosen
keys older than moto made them (`backdate_key`).
"""

from standins.aws_proxy.callers import DEFAULT_USER_NAME, Caller, caller_from_arn
from standins.aws_proxy.cloudtrail import LOOKUP_EVENTS_TARGET, LOOKUP_PAGE_SIZE, MAX_EVENTS_PER_ACCOUNT
from standins.aws_proxy.proxy import DEFAULT_ACCOUNT_ID, MAX_SEEN_REQUESTS, AwsFaultProxy, Fault, Match, SeenRequest
from standins.aws_proxy.quarantine import QUARANTINE_ARN_PREFIX
from standins.aws_proxy.recorder import RECORDED_IAM_ACTIONS
from standins.aws_proxy.strict_iam import MODES as IAM_MODES

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_USER_NAME",
    "IAM_MODES",
    "LOOKUP_EVENTS_TARGET",
    "LOOKUP_PAGE_SIZE",
    "MAX_EVENTS_PER_ACCOUNT",
    "MAX_SEEN_REQUESTS",
    "QUARANTINE_ARN_PREFIX",
    "RECORDED_IAM_ACTIONS",
    "AwsFaultProxy",
    "Caller",
    "Fault",
    "Match",
    "SeenRequest",
    "caller_from_arn",
]
