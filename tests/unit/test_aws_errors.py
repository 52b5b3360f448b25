"""AWS failures classified in one place (workers/aws/errors.py): `classified()` turns botocore's
exceptions into the typed AwsCallError, as a decorator (generators included) and as a `with`
block, and `unless_missing` reads IAM's NoSuchEntity as "nothing there"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from workers.aws.errors import AccountOutcome, AwsCallError, classified, unless_missing


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "secret-looking text"}}, "SomeOperation")


@pytest.mark.parametrize(
    ("failure", "assuming_role", "outcome"),
    [
        # Throttling survives botocore's retries: the caller is told, not handed an empty result.
        (client_error("Throttling"), False, AccountOutcome.THROTTLED),
        # A refused action is access denied...
        (client_error("AccessDenied"), False, AccountOutcome.ACCESS_DENIED),
        # ...but a refused AssumeRole means the role, whatever the code.
        (client_error("AccessDenied"), True, AccountOutcome.ASSUME_ROLE_FAILED),
        # Not a ClientError at all: botocore's own failures are classified too.
        (ReadTimeoutError(endpoint_url="https://iam.amazonaws.com/"), False, AccountOutcome.TIMED_OUT),
    ],
)
def test_a_with_block_raises_botocore_failures_as_the_classified_error(
    failure: Exception, assuming_role: bool, outcome: AccountOutcome
) -> None:
    """Inside `with classified()`, a ClientError or BotoCoreError leaves as AwsCallError, caused by it."""
    with pytest.raises(AwsCallError) as raised, classified(assuming_role=assuming_role):
        raise failure
    assert raised.value.outcome is outcome
    assert raised.value.__cause__ is failure
    assert "secret-looking" not in raised.value.detail


def test_a_decorated_function_raises_the_classified_error_and_keeps_its_name() -> None:
    """`@classified()` on a function classifies what it raises and keeps the function's name."""

    @classified()
    def read() -> str:
        raise client_error("AccessDeniedException")

    with pytest.raises(AwsCallError) as raised:
        read()
    assert raised.value.outcome is AccountOutcome.ACCESS_DENIED
    assert read.__name__ == "read"


def test_a_decorated_generator_is_guarded_while_it_is_iterated() -> None:
    """A paginating generator's failure on a later page is classified, though the call had returned."""

    @classified()
    def pages() -> Iterator[int]:
        yield 1
        raise client_error("ThrottlingException")

    listing = pages()
    assert next(listing) == 1
    with pytest.raises(AwsCallError) as raised:
        next(listing)
    assert raised.value.outcome is AccountOutcome.THROTTLED


def test_an_already_classified_error_and_other_exceptions_pass_through_untouched() -> None:
    """AwsCallError from a nested call leaves as itself; a bug (KeyError) is never dressed up as AWS's."""
    inner = AwsCallError(AccountOutcome.SUSPENDED, "the account is not usable (AccountSuspended)")
    with pytest.raises(AwsCallError) as raised, classified():
        raise inner
    assert raised.value is inner
    with pytest.raises(KeyError), classified():
        raise KeyError("Arn")


def test_missing_is_none_and_anything_else_is_classified() -> None:
    """unless_missing: NoSuchEntity is None; another code or a botocore failure is AwsCallError."""

    def fails(exc: Exception) -> object:
        raise exc

    assert unless_missing(lambda: "there") == "there"
    assert unless_missing(lambda: fails(client_error("NoSuchEntity"))) is None
    with pytest.raises(AwsCallError) as denied:
        unless_missing(lambda: fails(client_error("AccessDenied")))
    assert denied.value.outcome is AccountOutcome.ACCESS_DENIED
    with pytest.raises(AwsCallError) as broken:
        unless_missing(lambda: fails(BotoCoreError()))
    assert broken.value.outcome is AccountOutcome.ERROR
