"""RQ entry points of key hygiene: the functions of workers/hygiene/publishing.py, which already
take (runtime, decoded arguments)."""

from workers.hygiene.publishing import after_sweep, publish_home, send_report

__all__ = ["after_sweep", "publish_home", "send_report"]
