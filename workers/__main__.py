"""`python -m workers`: run one worker process (the Procfile's `worker`)."""

from __future__ import annotations

import sys

from core.logs import configure_logging
from core.settings import Settings, SettingsError


def main() -> None:
    configure_logging()
    try:
        settings = Settings.from_env(require_signing_secret=False)
    except SettingsError as exc:
        sys.exit(f"whose-key worker: {exc}")
    from workers.worker import run_worker  # after settings: nothing heavy before they check out

    run_worker(settings)


if __name__ == "__main__":
    main()
