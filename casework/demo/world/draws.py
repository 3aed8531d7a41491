"""Small deterministic draws the world is built from: weighted picks, hex ids, public
addresses, exact proportional splits and opaque request ids.

Every draw takes the caller's seeded `random.Random`, so the same seed gives the same world.
"""

from __future__ import annotations

import random


def weighted(rng: random.Random, options: dict):
    return rng.choices(list(options), weights=list(options.values()))[0]


def hex_digits(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


_RESERVED_PREFIXES = ((192, 0, 2), (198, 51, 100), (203, 0, 113))


def public_prefix(rng: random.Random) -> str:
    """A /24 in ordinary public unicast space (no private, loopback or multicast ranges)."""
    while True:
        a, b, c = rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255)
        if a in (10, 127) or (a == 100 and 64 <= b < 128) or (a == 169 and b == 254):
            continue
        if (a == 172 and 16 <= b < 32) or (a == 192 and b == 168) or (a == 198 and b in (18, 19)):
            continue
        if (a, b, c) in _RESERVED_PREFIXES:
            continue
        return f"{a}.{b}.{c}"


def host(rng: random.Random, prefix: str) -> str:
    return f"{prefix}.{rng.randint(2, 254)}"


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Split an exact total in proportion to weights (Hamilton's method), deterministically."""
    mass = sum(weights)
    if total <= 0 or mass <= 0:
        return [0] * len(weights)
    quotas = [total * weight / mass for weight in weights]
    counts = [int(quota) for quota in quotas]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - quotas[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def mix_request_id(seq: int, key: int) -> str:
    """Opaque request id: an invertible 96-bit mix of the sequence number, so ids never
    collide and yet carry no visible order."""
    mask = (1 << 96) - 1
    x = (seq ^ key) & mask
    x = (x * 0x9E3779B97F4A7C15F39CC061) & mask
    x ^= x >> 47
    x = (x * 0xC2B2AE3D27D4EB4F165667B1) & mask
    x ^= x >> 43
    return f"req_{x:024x}"
