"""Make well-formed access key IDs for a given account, as AWS's encoding would.

Only for demos and tests: a key that is well formed but exists nowhere (or in an account
outside the organization) cannot be had from moto any other way.
"""

from __future__ import annotations

import base64
import random


def synthesize_key_id(account_id: str, prefix: str = "AKIA", rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    while True:
        # 48 bits: one random high bit, the 40-bit account, 7 random low bits (the inverse of the
        # decode in core.keyids); then 32 random bits, base32 into 16 characters.
        z = (rng.getrandbits(1) << 47) | (int(account_id) << 7) | rng.getrandbits(7)
        raw = z.to_bytes(6, "big") + rng.getrandbits(32).to_bytes(4, "big")
        key_id = prefix + base64.b32encode(raw).decode()[:16]
        if key_id[4] not in "IJ":  # those would read as old-format keys
            return key_id
