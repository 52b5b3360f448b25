"""workers/ stays organized by capability: few modules loose at its root, and short import chains
(import-linter in `python3 dev.py lint` checks the direction; this checks the depth)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

WORKERS = Path(__file__).resolve().parents[2] / "workers"
MAX_LOOSE_MODULES = 10
MAX_CHAIN = 7


def module_name(path: Path) -> str:
    parts = path.relative_to(WORKERS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in WORKERS.rglob("*.py")}


@cache
def imports_of(module: str) -> frozenset[str]:
    """The workers modules `module` imports (a `from package import name` counts the submodule)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return frozenset(name for name in found if name in MODULES and name not in (module, "workers"))


@cache
def longest_chain(module: str) -> tuple[str, ...]:
    chains = [longest_chain(imported) for imported in imports_of(module)]
    return (module, *max(chains, key=len, default=()))


def test_at_most_ten_modules_are_loose_at_the_root_of_workers() -> None:
    """Everything but the runtime, the shared vocabulary and a few small leaves lives in a capability package."""
    loose = sorted(path.name for path in WORKERS.glob("*.py"))

    assert len(loose) <= MAX_LOOSE_MODULES, loose


def test_the_longest_import_chain_inside_workers_is_at_most_seven_modules() -> None:
    """No module reaches more than six others deep (a cycle would recurse forever and fail here too)."""
    chain = max((longest_chain(module) for module in MODULES), key=len)

    assert len(chain) <= MAX_CHAIN, " -> ".join(chain)
