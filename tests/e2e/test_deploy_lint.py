"""cfn-lint over every CloudFormation template of deploy/ (a second or so each, so it runs with the
end-to-end layer rather than the unit layer; the templates' least-privilege checks stay in
tests/unit/test_deploy.py)."""

from __future__ import annotations

import pytest

from tests.unit.test_deploy import DEPLOY, TEMPLATES
from tests.unit.test_deploy_responder import RESPONDER_TEMPLATES


@pytest.mark.parametrize("name", [*TEMPLATES, *RESPONDER_TEMPLATES])
def test_template_passes_cfn_lint(name: str) -> None:
    """cfn-lint reports no errors and no warnings for the template (informational allowed)."""
    try:
        from cfnlint.api import lint_file
    except ImportError:  # pragma: no cover - a broken test environment, not a skip
        pytest.fail("cfn-lint is not installed: pip install -e '.[test]'")
    matches = lint_file(DEPLOY / name)
    problems = [m for m in matches if m.rule.id[0] in "EW"]
    assert not problems, "\n".join(str(m) for m in problems)
