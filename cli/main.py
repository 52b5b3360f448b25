"""`whose-key`: the operators' command line (lookup, demo; more commands as they land)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from core.parse import parse_command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="whose-key", description="Who owns this AWS access key?")
    commands = parser.add_subparsers(dest="command", required=True)

    lookup = commands.add_parser("lookup", help="look up access key IDs and print the answer")
    lookup.add_argument("keys", nargs="+", metavar="KEY", help="access key IDs (AKIA…/ASIA…)")
    lookup.add_argument("--deep", action="store_true", help="search every account of the organization")

    sweep = commands.add_parser("sweep", help="check every key of every account now and notify owners of changes")
    sweep.add_argument("--local", action="store_true", help="run it in this process, for when no worker runs")
    report = commands.add_parser("report", help="key hygiene from the last sweep: old, unused, ownerless keys")
    report.add_argument("--post", action="store_true", help="post the digest (with its chart) to the audit channel now")
    report.add_argument("--csv", metavar="FILE", help="write one row per key to FILE as CSV (- for stdout)")
    report.add_argument(
        "--json", metavar="FILE", nargs="?", const="-", help="write one JSON object per key and line (default stdout)"
    )
    for verb, what in (("deactivate", "deactivate a key"), ("reactivate", "reactivate a key (the undo)")):
        acting = commands.add_parser(verb, help=f"{what} through the opt-in responder role, audited")
        acting.add_argument("key", metavar="KEY", help="the access key ID (AKIA…)")
        acting.add_argument("--reason", required=True, help="why: the owner and the audit trail read it")
    commands.add_parser("doctor", help="check settings, Slack, Redis, AWS and the member role in every account")
    commands.add_parser("demo", help="run the bot offline on embedded defaults and show its answers")

    args = parser.parse_args(argv)
    if args.command == "lookup":
        return run_lookup(args.keys, deep=args.deep)
    if args.command == "sweep":
        from cli.sweep import run_sweep_command

        return run_sweep_command(local=args.local)
    if args.command == "report":
        from cli.report import run_report

        return run_report(post=args.post, csv_path=args.csv, json_path=args.json)
    if args.command in ("deactivate", "reactivate"):
        from cli.respond import run_key_action

        return run_key_action(args.command, args.key, args.reason)
    if args.command == "doctor":
        from cli.doctor import run_doctor

        return run_doctor()
    if args.command == "demo":
        return run_demo()
    parser.error(f"unknown command {args.command}")
    return 2


def run_demo() -> int:
    """The offline demo lives with the stand-ins, which only a checkout has (they never ship)."""
    # An editable install from a checkout maps the product packages only; the stand-ins sit next
    # to them in the checkout, so look there.
    checkout = Path(__file__).resolve().parents[1]
    in_checkout = (checkout / "standins" / "__init__.py").is_file()
    if in_checkout and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        # Imported by name, not statically: the product never depends on the stand-ins.
        demo = importlib.import_module("standins.demo")
    except ModuleNotFoundError as exc:
        print(f"whose-key demo: {demo_missing_message(exc.name or 'standins', checkout if in_checkout else None)}",
              file=sys.stderr)  # fmt: skip
        return 2
    return int(demo.run_demo())


# Import names whose package on PyPI is called otherwise.
DISTRIBUTION_OF_MODULE = {"yaml": "PyYAML"}


def demo_missing_message(missing: str, checkout: Path | None) -> str:
    """What to install when the demo cannot import something: the package by name, and the command."""
    top = missing.split(".")[0]
    if top == "standins" or checkout is None:
        return (
            f"{missing!r} is not installed. The demo runs the bot against local stand-ins for Slack, AWS and "
            "Redis, which come with a checkout of whose-key, not with the package: clone the repository and "
            "run python3 dev.py demo in it."
        )
    package = DISTRIBUTION_OF_MODULE.get(top, top)
    return (
        f"the package {package!r} is not installed in this Python ({sys.executable}). Install it with: "
        f"{sys.executable} -m pip install {package} (or everything the demo needs: "
        f"{sys.executable} -m pip install -e '{checkout}[demo]')"
    )


def run_lookup(words: Sequence[str], *, deep: bool) -> int:
    """Look keys up from this machine with its AWS credentials and print the answer."""
    from core.settings import Settings, SettingsError
    from workers.aws.errors import AwsCallError
    from workers.lookup.local import local_finder
    from workers.render.terminal import render_terminal

    parsed = parse_command(" ".join(words))
    if parsed.secret_pasted:
        print("That contained a secret access key: it was ignored. Treat it as exposed and rotate it.", file=sys.stderr)
    for problem in parsed.problems:
        hint = f" Did you mean {problem.suggestion}?" if problem.suggestion else ""
        print(f"whose-key: {problem.reason.replace('`', '')}{hint}", file=sys.stderr)
    if not parsed.keys:
        if not parsed.problems:
            print("whose-key: give at least one access key ID (AKIA… or ASIA…).", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env(require_slack=False)
    except SettingsError as exc:
        print(f"whose-key: {exc}", file=sys.stderr)
        return 2
    finder, note = local_finder(settings)
    if note:
        print(f"note: {note}", file=sys.stderr)
    try:
        reports = [finder.find(key, deep=deep or parsed.deep) for key in parsed.keys]
    except AwsCallError as exc:
        print(f"whose-key: the AWS Organization could not be read: {exc.detail}", file=sys.stderr)
        return 1
    print(render_terminal(reports, secret_exposed=parsed.secret_pasted), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
