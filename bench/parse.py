"""How long the web takes to parse what a person typed, before any access check: 40,000
characters (Slack's limit) of distinct bad tokens, of text full of secret-like material, and of
one-letter words (the most words 40,000 characters can hold: the worst case for per-word work).

    python3 dev.py bench parse [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.parse import parse_command, parse_free_text  # noqa: E402

SIZE = 40_000


def distinct_bad_tokens(rng: random.Random) -> str:
    """Tokens that start like key IDs but are not, each different: the worst case for the problem list."""
    words = []
    while sum(len(w) + 1 for w in words) < SIZE:
        words.append("AKIA" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0189") for _ in range(12)))
    return " ".join(words)[:SIZE]


def secret_like_text(rng: random.Random) -> str:
    """Random base64-looking runs split by spaces and line breaks, with %2F and \\/ mixed in."""
    alphabet = string.ascii_letters + string.digits + "/+"
    parts = []
    while sum(len(p) + 1 for p in parts) < SIZE:
        piece = "".join(rng.choice(alphabet) for _ in range(rng.randint(5, 45)))
        parts.append(piece.replace("/", rng.choice(["/", "%2F", "\\/"]), 1))
    return rng.choice([" ", "\n"]).join(parts)[:SIZE]


def short_words(rng: random.Random) -> str:
    """20,000 words of one letter or digit each."""
    return " ".join(rng.choice(string.ascii_letters + string.digits) for _ in range(SIZE // 2))[:SIZE]


def timed(parse: object, text: str, repeat: int) -> float:
    """The median time of one parse, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        parse(text)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(21)
    texts = (
        ("distinct bad tokens", distinct_bad_tokens(rng)),
        ("secret-like text", secret_like_text(rng)),
        ("one-letter words", short_words(rng)),
    )
    for label, text in texts:
        for name, parse in (("command", parse_command), ("mention/DM", parse_free_text)):
            print(f"{len(text):,} characters of {label}, {name}: {timed(parse, text, args.repeat):.1f} ms (median)")


if __name__ == "__main__":
    main()
