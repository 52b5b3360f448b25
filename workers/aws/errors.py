"""AWS failures, classified in one place: botocore's exceptions become one typed error
(`AwsCallError`: an outcome in the finder's terms and a short, secret-free detail).

Code that calls AWS wraps the call in `classified()` (as a decorator or a `with` block) and never
parses `ClientError` itself; like cartography's `@aws_handle_regions`, one wrapper for every call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)


class AccountOutcome(StrEnum):
    """How looking in one account went. "Could not look" is never "not there"."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    ACCESS_DENIED = "access_denied"
    ASSUME_ROLE_FAILED = "assume_role_failed"
    THROTTLED = "throttled"
    TIMED_OUT = "timed_out"
    SUSPENDED = "suspended"
    ERROR = "error"
    NOT_STARTED = "not_started"  # the full search did not run (the person's budget, or no free slot)

    @property
    def searched(self) -> bool:
        return self in (AccountOutcome.FOUND, AccountOutcome.NOT_FOUND)


P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_SUSPENDED_CODES = {"AccountSuspended", "SuspendedAccount", "OptInRequired", "InvalidClientTokenId"}
# IAM's answer for a user or key that does not exist: for a reader, "nothing there", not a failure.
_MISSING_CODE = "NoSuchEntity"


class AwsCallError(Exception):
    """An AWS call failed; `outcome` says how, in the finder's terms."""

    def __init__(self, outcome: AccountOutcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def classify(exc: BaseException, *, assuming_role: bool = False) -> AwsCallError:
    """Map a botocore failure to a typed outcome with a short, secret-free detail."""
    code = error_code(exc)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return AwsCallError(AccountOutcome.TIMED_OUT, "AWS did not answer in time")
    if isinstance(exc, EndpointConnectionError):
        return AwsCallError(AccountOutcome.TIMED_OUT, "could not reach the AWS endpoint")
    if code in _THROTTLING_CODES:
        return AwsCallError(AccountOutcome.THROTTLED, f"throttled by AWS ({code}) after retries")
    if code in _SUSPENDED_CODES and not assuming_role:
        return AwsCallError(AccountOutcome.SUSPENDED, f"the account is not usable ({code})")
    if assuming_role:
        if code in _DENIED_CODES:
            return AwsCallError(
                AccountOutcome.ASSUME_ROLE_FAILED,
                "could not assume the role (missing, or its trust policy does not allow whose-key)",
            )
        return AwsCallError(AccountOutcome.ASSUME_ROLE_FAILED, f"could not assume the role ({code})")
    if code in _DENIED_CODES:
        return AwsCallError(AccountOutcome.ACCESS_DENIED, f"access denied ({code})")
    return AwsCallError(AccountOutcome.ERROR, f"AWS error ({code or 'unknown'})")


def is_throttling(exc: BaseException) -> bool:
    """True for AWS's "slow down" answers, which a caller may wait out and retry."""
    return error_code(exc) in _THROTTLING_CODES


def is_denied(exc: BaseException) -> bool:
    """True when AWS refused the caller the action (its policies do not allow it)."""
    return error_code(exc) in _DENIED_CODES


class _Classified:
    """What `classified()` returns: a context manager that is also a decorator. It keeps no state
    between uses, so one instance may guard many calls at once (threads, nested blocks)."""

    def __init__(self, *, assuming_role: bool) -> None:
        self._assuming_role = assuming_role

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        # Only botocore's own failures are classified: an AwsCallError from a nested call has been
        # already, and anything else (a bug, KeyboardInterrupt) must surface as itself.
        if isinstance(exc, ClientError | BotoCoreError):
            raise classify(exc, assuming_role=self._assuming_role) from exc

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(fn):
            # A generator's calls to AWS happen while it is iterated, after the call that made it
            # has returned: the guard has to stay around the iteration, not the call.
            @functools.wraps(fn)
            def iterate(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return (yield from fn(*args, **kwargs))

            return cast(Callable[P, R], iterate)

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return fn(*args, **kwargs)

        return call


def classified(*, assuming_role: bool = False) -> _Classified:
    """Re-raise botocore's failures (ClientError, BotoCoreError) as the classified AwsCallError.

    As `@classified()` on a function (generators included) or `with classified():` around calls;
    assuming_role: the calls assume a member role, so a refusal means the role, not the action.
    """
    return _Classified(assuming_role=assuming_role)


def unless_missing(call: Callable[[], T]) -> T | None:
    """call(), or None when IAM says the user or key does not exist; other failures classified."""
    with classified():
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) != _MISSING_CODE:
                raise
            return None
