"""Short answers to what people ask when they hit `InvalidAccessKeyId`, shown with every answer."""

from __future__ import annotations

from dataclasses import dataclass

from core.blockkit import MAX_FALLBACK, Block, Message, clip, section

# Answers stay short enough to read in one Slack section.
MAX_ANSWER_CHARS = 300


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str


FAQ: tuple[FaqEntry, ...] = (
    FaqEntry(
        "What is an access key ID?",
        "The public half of an AWS credential; the secret access key is the private half. "
        "`AKIA…` IDs are long-term keys of IAM users. `ASIA…` IDs are temporary keys "
        "from STS (roles, SSO) and also need a session token.",
    ),
    FaqEntry(
        "Why does an access key ID become invalid?",
        "AWS no longer knows it: mistyped, deleted, deactivated, its user deleted, or temporary "
        "credentials that expired. Sending it to GovCloud or China has the same effect. "
        "Often the key is fine and the app simply uses a different one.",
    ),
    FaqEntry(
        "Can a deleted access key be recovered?",
        "No, deletion is final. Create a new key for the user, roll it out everywhere the old one "
        "ran, check it works, then clean up. Next time deactivate first and delete later: "
        "deactivation can be undone.",
    ),
    FaqEntry(
        "Is my secret access key wrong too?",
        "Not necessarily. This error is about the ID: AWS does not recognise it, so the secret "
        "is never checked and no secret can help. A known ID with a wrong secret fails with "
        "`SignatureDoesNotMatch` instead.",
    ),
    FaqEntry(
        "Can whose-key see or reset my secret?",
        "No. It reads key metadata only: owner, status, dates, last use. AWS never shows a secret "
        "again after creation, and whose-key changes nothing. If you pasted a secret here, "
        "rotate that key now.",
    ),
    FaqEntry(
        "How do I rotate a key without downtime?",
        "A user can hold two keys. Create the second, deploy it everywhere, watch "
        "`aws iam get-access-key-last-used` until the old key sits idle, deactivate it, "
        "wait a few days, then delete it.",
    ),
)


def render_faq() -> Message:
    """The FAQ as one Slack message (our own text: nothing here comes from outside)."""
    blocks: list[Block] = [section("*Access keys and `InvalidAccessKeyId`: common questions*")]
    for entry in FAQ:
        blocks.append(section(f"*{entry.question}*\n{entry.answer}"))
    text = "\n".join(f"{e.question} {e.answer}" for e in FAQ)
    return Message(clip(text, MAX_FALLBACK), blocks)
