#!/usr/bin/env python3
"""One entry point for developers, needing only Python 3.11+:

    python3 dev.py demo            # the bot, offline, on embedded defaults
    python3 dev.py test [ARGS]     # the whole test suite: unit, then end to end against moto's IAM and
                                   # against strict IAM side by side (ARGS: pytest on those alone)
    python3 dev.py unit [ARGS]     # the fast unit layer only (no processes, seconds)
    python3 dev.py lint            # ruff, mypy and the one-way import rule (CI runs this, then the tests)
    python3 dev.py bench NAME      # a benchmark from bench/ (ack, lookup, ...)

Each creates .venv when there is none and (re)installs the project when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".whose-key-installed"


def ensure_environment(extra: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older python3
        sys.exit(f"whose-key needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV.relative_to(ROOT)} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = f"{extra}:{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()}"
    installed = STAMP.read_text().split() if STAMP.exists() else []
    # A test install includes the demo's packages, so it serves both.
    if wanted in installed or (extra == "demo" and wanted.replace("demo:", "dev:") in installed):
        return
    print(f"installing whose-key[{extra}] into {VENV.relative_to(ROOT)} …", flush=True)
    # --no-compile: byte-compiling every installed module (moto, botocore, matplotlib) took half the
    # demo's first run; the demo imports a fraction of them. The test suite starts hundreds of
    # processes, which must not each compile from source (PYTHONDONTWRITEBYTECODE may be set), so
    # a test install compiles everything once, on both cores.
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "-e", f".[{extra}]"])  # fmt: skip
    if extra != "demo":  # a file that does not compile is only slower to import: not a failure
        subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-j", "0", str(VENV)], check=False,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    STAMP.write_text(" ".join(installed + [wanted]))


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, cwd=ROOT, check=False, env={**os.environ, **env} if env else None)
    if result.returncode != 0:
        sys.exit(result.returncode)


def run_side_by_side(commands: dict[str, tuple[list[str], dict[str, str]]]) -> None:
    """Run commands at once, each with its output in a file; show each output whole, then fail if any failed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="whose-key-test-") as folder:
        started = []
        for index, (title, (argv, env)) in enumerate(commands.items()):
            log = open(Path(folder) / f"{index}.log", "w+b")  # noqa: SIM115 - closed below
            process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
            started.append((title, process, log))
        failed = 0
        for title, process, log in started:
            code = process.wait()
            log.seek(0)
            print(f"==== {title} ====", flush=True)
            sys.stdout.buffer.write(log.read())
            sys.stdout.flush()
            log.close()
            failed = failed or code
    if failed:
        sys.exit(failed)


def main(args: list[str]) -> None:
    command, rest = (args[0], args[1:]) if args else ("help", [])
    if command == "demo":
        ensure_environment("demo")
        run([str(BIN / "whose-key"), "demo"])
    elif command == "test":
        ensure_environment("dev")
        if rest:
            run([str(PYTHON), "-m", "pytest", *rest])
            return
        run([str(PYTHON), "-m", "pytest", "tests/unit"])
        # moto is more lenient than IAM where it matters to the finder (see
        # standins/aws_proxy/strict_iam.py), so the end-to-end layer runs against both. The
        # passes start their own Redis, moto and Slack on free ports and mostly wait on I/O, so
        # they run side by side, each on two processes of its own (each module whole on one of
        # them: its stack is the module's).
        run_side_by_side(
            {
                "end to end, moto's IAM": (
                    [str(PYTHON), "-m", "pytest", "tests/e2e", "-n", "2", "--dist", "loadfile"],
                    {},
                ),
                "end to end, strict IAM (WHOSE_KEY_TEST_IAM_MODE=strict)": (
                    [str(PYTHON), "-m", "pytest", "tests/e2e", "-n", "2", "--dist", "loadfile"],
                    {"WHOSE_KEY_TEST_IAM_MODE": "strict"},
                ),
            }
        )
    elif command == "unit":
        ensure_environment("dev")
        run([str(PYTHON), "-m", "pytest", "tests/unit", *rest])
    elif command == "lint":
        ensure_environment("dev")
        run([str(PYTHON), "-m", "ruff", "check", "."])
        run([str(PYTHON), "-m", "ruff", "format", "--check", "."])
        run([str(PYTHON), "-m", "mypy"])
        run([str(BIN / "lint-imports")])
    elif command == "bench":
        ensure_environment("dev")
        if not rest:
            sys.exit("usage: python3 dev.py bench NAME [ARGS]  (NAME: a file in bench/ without .py)")
        run([str(PYTHON), str(ROOT / "bench" / f"{rest[0]}.py"), *rest[1:]])
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
