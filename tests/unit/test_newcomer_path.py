"""The newcomer's path: the README's two opening commands are the ones CI runs, in that order, and
the demo's install holds every package the demo imports (so a test-only package can never break it)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from cli.main import demo_missing_message

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"core", "bot", "workers", "cli", "standins"}
# What the demo runs: its driver, and the Procfile's processes it starts (web and worker).
DEMO_ENTRY_MODULES = ["standins.demo", "cli.main", "bot.web", "workers.__main__"]


def load_ci_helper():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("readme_commands", ROOT / ".ci" / "readme_commands.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_opens_with_the_demo_then_the_tests() -> None:
    """The README's first shell block is exactly two commands: the demo, then the tests."""
    commands = load_ci_helper().readme_commands((ROOT / "README.md").read_text())

    assert commands == ["python3 dev.py demo", "python3 dev.py test"]


def test_ci_runs_the_readme_commands_demo_first_then_lint_then_tests() -> None:
    """.ci/run takes its commands from the README and runs the demo before the lint step and the tests."""
    script = (ROOT / ".ci" / "run").read_text()
    body = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]

    assert "commands=$(python3 .ci/readme_commands.py)" in body
    runs = [line for line in body if line.startswith("timed ")]
    assert runs == ['timed "$demo"', "timed python3 dev.py lint", 'timed "$tests"']
    assert "set -euo pipefail" in body, "a failed demo must fail CI"


def test_the_ci_helper_refuses_a_readme_without_an_opening_block() -> None:
    """A README that lost its opening block yields no commands (and .ci/run then fails)."""
    helper = load_ci_helper()

    assert helper.readme_commands("# whose-key\n\nNo commands here.\n") == []
    assert helper.readme_commands("```sh\npython3 dev.py demo   # the demo\n\npython3 dev.py test\n```\n") == [
        "python3 dev.py demo",
        "python3 dev.py test",
    ]


def module_path(name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def import_time_imports(tree: ast.Module) -> Iterator[str]:
    """Modules imported when the module loads: not inside functions, nor under `if TYPE_CHECKING`."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            # `from package import module` loads the submodule too.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
        elif isinstance(node, ast.ClassDef | ast.With):
            pending.extend(node.body)


def third_party_imports_of_the_demo() -> set[str]:
    seen: set[str] = set()
    third_party: set[str] = set()
    queue = list(DEMO_ENTRY_MODULES)
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_path(name)
        if path is None:
            continue
        # A submodule loads its packages' __init__ first.
        queue.extend(".".join(name.split(".")[:n]) for n in range(1, name.count(".") + 1))
        for imported in import_time_imports(ast.parse(path.read_text())):
            top = imported.split(".")[0]
            if top in FIRST_PARTY:
                queue.append(imported)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return third_party


def distributions_needed(requirement: str, seen: set[str] | None = None) -> set[str]:
    """The installed distributions a requirement brings, with its extras, recursively."""
    seen = set() if seen is None else seen
    req = Requirement(requirement)
    name = metadata.distribution(req.name).metadata["Name"].lower().replace("_", "-")
    key = f"{name}[{','.join(sorted(req.extras))}]"
    if key in seen:
        return set()
    seen.add(key)
    found = {name}
    for child in metadata.requires(req.name) or []:
        child_req = Requirement(child)
        applies = child_req.marker is None or any(
            child_req.marker.evaluate({"extra": extra}) for extra in (req.extras or {""})
        )
        if applies:
            found |= distributions_needed(child, seen=seen)
    return found


def test_the_demo_extra_holds_every_package_the_demo_imports() -> None:
    """Every third-party module the demo (and the web and worker it starts) imports on loading comes
    from the product's own dependencies or its `demo` extra, not from the test extra."""
    installed = distributions_needed("whose-key[demo]")
    providers = metadata.packages_distributions()

    missing = {
        module: providers.get(module, ["?"])
        for module in third_party_imports_of_the_demo()
        if not {dist.lower().replace("_", "-") for dist in providers.get(module, [])} & installed
    }

    assert missing == {}, "imported by the demo but not in whose-key[demo]"


def test_the_test_only_socket_mode_double_is_outside_the_demo() -> None:
    """The check above sees the Socket Mode double's `websockets` as test-only (it is not in the demo extra)."""
    installed = distributions_needed("whose-key[demo]")

    assert "websockets" not in installed
    assert "websockets" not in third_party_imports_of_the_demo()


def test_a_missing_package_is_named_with_the_command_that_installs_it(tmp_path: Path) -> None:
    """In a checkout, the message names the missing package and the pip command, not `dev.py demo` again."""
    message = demo_missing_message("yaml", tmp_path)

    assert "'PyYAML' is not installed" in message
    assert f"{sys.executable} -m pip install PyYAML" in message
    assert f"-m pip install -e '{tmp_path}[demo]'" in message
    assert "dev.py demo" not in message


def test_without_a_checkout_the_message_says_where_the_demo_lives() -> None:
    """From an installed package (no stand-ins), the message sends the person to a checkout."""
    message = demo_missing_message("standins", None)

    assert "'standins' is not installed" in message
    assert "clone the repository and run python3 dev.py demo" in message
