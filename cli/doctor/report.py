"""The doctor's report: an aligned table, one "How to fix" entry per distinct fix, a verdict."""

from __future__ import annotations

from cli.doctor.model import NAMES_SHOWN, Check, Status, severity


def exit_code(checks: list[Check]) -> int:
    """0 when nothing FAILs (warnings are fine), 1 otherwise."""
    return 1 if any(c.status is Status.FAIL for c in checks) else 0


def render_checks(checks: list[Check]) -> str:
    """An aligned table (status, area, check, detail), then how to fix each WARN and FAIL."""
    header = ("STATUS", "AREA", "CHECK", "DETAIL")
    rows = [(str(c.status), c.area, c.name, c.detail) for c in checks]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]

    lines = [line(header), *(line(row) for row in rows)]
    lines += _fix_lines(checks)

    counts = {status: sum(1 for c in checks if c.status is status) for status in Status}
    verdict = "whose-key is ready." if not counts[Status.FAIL] else "whose-key will not work until the FAILs are fixed."
    lines += ["", f"{counts[Status.OK]} OK, {counts[Status.WARN]} WARN, {counts[Status.FAIL]} FAIL. {verdict}"]
    return "\n".join(lines) + "\n"


def _fix_lines(checks: list[Check]) -> list[str]:
    # Checks that share a fix (say, 40 accounts without the role) get one entry naming them.
    fixes: dict[str, list[Check]] = {}
    for check in checks:
        if check.status is not Status.OK and check.fix:
            fixes.setdefault(check.fix, []).append(check)
    if not fixes:
        return []
    lines = ["", "How to fix:"]
    for number, (fix, owners) in enumerate(fixes.items(), start=1):
        names = ", ".join(f"{c.area} {c.name}" for c in owners[:NAMES_SHOWN])
        if len(owners) > NAMES_SHOWN:
            names += f" and {len(owners) - NAMES_SHOWN} more"
        status = max((c.status for c in owners), key=severity)
        lines.append(f"  {number}. [{status}] {names}: {fix}")
    return lines
