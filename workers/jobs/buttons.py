"""RQ entry points of the answer's buttons and of prepared replies: the functions of
workers/answers/buttons.py, which already take (runtime, decoded arguments)."""

from workers.answers.buttons import notify_owner, post_reply, share_answer, show_faq

__all__ = ["notify_owner", "post_reply", "share_answer", "show_faq"]
