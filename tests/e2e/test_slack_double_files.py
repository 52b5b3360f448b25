"""The Slack double's file upload flow, views.publish and deactivated members, over real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from standins.slack_double import PNG_SIGNATURE, SlackDouble

TOKEN = "xoxb-double-test"  # noqa: S105 - fake token the double accepts
PNG = PNG_SIGNATURE + b"\x00\x00\x00\rIHDR rest of a picture"


@pytest.fixture
def double() -> Iterator[SlackDouble]:
    with SlackDouble(token=TOKEN, users_by_email={"ana@example.com": "U0ANA"}) as d:
        yield d


@pytest.fixture
def client(double: SlackDouble) -> WebClient:
    return WebClient(token=TOKEN, base_url=double.base_url)


def test_files_upload_v2_goes_through_the_three_steps(double: SlackDouble, client: WebClient) -> None:
    """files_upload_v2 gets an upload URL, uploads the bytes there and completes into the channel; the PNG is kept."""
    response = client.files_upload_v2(channel="C0AUDIT", content=PNG, filename="chart.png", title="Chart")
    assert response["file"]["title"] == "Chart"
    (upload,) = double.uploads
    assert upload.data == PNG and upload.is_png and upload.channel == "C0AUDIT" and upload.title == "Chart"
    assert [c.name for c in double.calls] == [
        "files.getUploadURLExternal",
        f"/upload/{upload.file_id}",
        "files.completeUploadExternal",
    ]


def test_upload_of_other_bytes_is_kept_but_not_a_png(double: SlackDouble, client: WebClient) -> None:
    """A file that does not start with the PNG signature is recorded as not a PNG."""
    client.files_upload_v2(channel="C0AUDIT", content=b"plain text", filename="notes.txt")
    assert not double.uploads[0].is_png


def test_upload_with_the_wrong_length_is_refused(double: SlackDouble, client: WebClient) -> None:
    """The upload URL takes exactly the announced number of bytes, once."""
    url = client.files_getUploadURLExternal(filename="x.png", length=4)["upload_url"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=b"too long", method="POST"), timeout=5)  # noqa: S310
    assert refused.value.code == 400
    assert double.uploads == []


def test_completing_a_file_never_uploaded_fails(client: WebClient) -> None:
    """files.completeUploadExternal refuses a file ID whose bytes never arrived."""
    file_id = client.files_getUploadURLExternal(filename="x.png", length=4)["file_id"]
    with pytest.raises(SlackApiError) as refused:
        client.files_completeUploadExternal(files=[{"id": file_id, "title": "x"}], channel_id="C0AUDIT")
    assert refused.value.response["error"] == "file_not_found"


def test_views_publish_is_recorded_per_member(double: SlackDouble, client: WebClient) -> None:
    """views.publish records the member and the Home view; a view of another type is refused."""
    view = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    client.views_publish(user_id="U0ANA", view=view)
    assert [v.view for v in double.views("U0ANA")] == [view] and double.views("U0BOB") == []
    with pytest.raises(SlackApiError):
        client.views_publish(user_id="U0ANA", view={"type": "modal", "blocks": []})


def test_deactivated_members_read_as_deleted(double: SlackDouble, client: WebClient) -> None:
    """users.info says deleted: true for a deactivated member, known by email or not."""
    assert client.users_info(user="U0ANA")["user"]["deleted"] is False
    double.deactivate_user("U0ANA")
    double.deactivate_user("U0GONE")
    assert client.users_info(user="U0ANA")["user"]["deleted"] is True
    assert client.users_info(user="U0GONE")["user"]["deleted"] is True
    # Any other member ID reads as a plain member (whoever can write to the bot exists on Slack)...
    assert client.users_info(user="U0NOBODY")["user"]["deleted"] is False
    # ...and what is not a member ID at all is not found, as on Slack.
    with pytest.raises(SlackApiError):
        client.users_info(user="nobody")
