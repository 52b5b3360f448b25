"""The README stays the operators' reference: every Redis key family and every setting is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.redis_keys import ALL_NAMES, RedisName

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SETTINGS_SOURCE = (Path(__file__).resolve().parents[2] / "core" / "settings.py").read_text()


@pytest.mark.parametrize("name", ALL_NAMES, ids=lambda n: n.stem)
def test_every_redis_key_family_is_in_the_readme(name: RedisName) -> None:
    """Operators can find every key whose-key writes, with what it holds, in the README."""
    assert f"`whose-key:{name.stem}" in README


@pytest.mark.parametrize("variable", sorted(set(re.findall(r'"((?:WHOSE_KEY|SLACK|REDIS)_[A-Z_]+)"', SETTINGS_SOURCE))))
def test_every_setting_is_in_the_readme(variable: str) -> None:
    """Every environment variable the settings read is documented in the README."""
    assert f"`{variable}`" in README
