"""When accounts send requests: daily rhythms by kind of user, and the four timings
(sessions following a rhythm, a dispatcher's shared slots, a planned shift schedule, a
campaign scheduler's waves)."""

from __future__ import annotations

import math
import random
from array import array
from bisect import bisect_right
from functools import lru_cache

from casework.demo.world.window import HOUR_MS, WINDOW_HOURS

_OFFICE = (
    0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.4, 0.8, 1.0, 1.0, 0.95,
    0.8, 0.95, 1.0, 0.95, 0.85, 0.6, 0.35, 0.25, 0.2, 0.15, 0.1, 0.07,
)  # fmt: skip
_CONSUMER = (
    0.3, 0.18, 0.1, 0.07, 0.05, 0.06, 0.12, 0.3, 0.5, 0.6, 0.65, 0.7,
    0.75, 0.7, 0.7, 0.7, 0.75, 0.8, 0.9, 1.0, 1.0, 0.95, 0.8, 0.55,
)  # fmt: skip
_DEVELOPER = (
    0.2, 0.1, 0.05, 0.03, 0.02, 0.03, 0.05, 0.1, 0.3, 0.5, 0.6, 0.6,
    0.5, 0.6, 0.6, 0.6, 0.55, 0.5, 0.55, 0.7, 0.8, 0.8, 0.6, 0.4,
)  # fmt: skip
_STUDENT = (
    0.3, 0.2, 0.1, 0.04, 0.02, 0.02, 0.03, 0.08, 0.25, 0.45, 0.6, 0.65,
    0.55, 0.65, 0.75, 0.8, 0.8, 0.7, 0.6, 0.7, 0.85, 0.9, 0.8, 0.55,
)  # fmt: skip
_SCHOOL = (
    0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.3, 0.8, 1.0, 1.0, 0.9,
    0.7, 0.9, 1.0, 0.9, 0.7, 0.55, 0.5, 0.55, 0.45, 0.25, 0.08, 0.03,
)  # fmt: skip
_CLASSES_START_DAY = 7  # 2026-01-12: the semester begins a week into the window


def _rhythm_weight(shape: str, local_hour: int, local_day: int, param: int) -> float:
    weekend = local_day % 7 >= 5
    if shape == "office":
        return _OFFICE[local_hour] * (0.12 if weekend else 1.0)
    if shape == "consumer":
        return _CONSUMER[local_hour] * (0.9 if weekend else 1.0)
    if shape == "developer":
        return _DEVELOPER[local_hour] * (0.7 if weekend else 1.0)
    if shape == "service":
        return 0.55 + 0.45 * _CONSUMER[local_hour]
    if shape == "batch":
        if local_hour == param:
            return 1.0
        return 0.3 if local_hour == (param + 1) % 24 else 0.01
    if shape == "student":
        term = 1.0 if local_day >= _CLASSES_START_DAY else 0.35
        return _STUDENT[local_hour] * term * (0.6 if weekend else 1.0)
    if shape == "school":  # lessons in the day, homework help in the evening
        return _SCHOOL[local_hour] * (0.15 if weekend else 1.0)
    raise ValueError(shape)


@lru_cache(maxsize=2048)
def rhythm_profile(
    shape: str, tz: float, param: int = 0, boost: tuple[int, int] | None = None
) -> array:
    """Cumulative hourly weights over the window for one rhythm in one timezone (shared by
    every account with the same rhythm and offset, so 20,000 accounts cost a few hundred)."""
    cumulative, total = array("d"), 0.0
    for hour in range(WINDOW_HOURS):
        local = math.floor(hour + tz)
        weight = _rhythm_weight(shape, local % 24, local // 24, param)
        if boost and boost[0] <= hour < boost[1] and 7 <= local % 24 <= 21:
            weight *= 12.0
        total += weight
        cumulative.append(total)
    return cumulative


class SessionTiming:
    """Requests come in sessions (a user at work, a cron job) whose starts follow a rhythm."""

    __slots__ = ("cumulative", "mean_extra", "mean_gap_ms")

    def __init__(self, cumulative: array, mean_extra: float, mean_gap_ms: float):
        self.cumulative = cumulative
        self.mean_extra = mean_extra
        self.mean_gap_ms = mean_gap_ms

    def times(self, rng: random.Random, count: int, lo: int, hi: int) -> list[int]:
        cumulative = self.cumulative
        lo_h, hi_h = lo // HOUR_MS, (hi - 1) // HOUR_MS + 1
        base = cumulative[lo_h - 1] if lo_h else 0.0
        span = cumulative[hi_h - 1] - base
        rnd, expo = rng.random, rng.expovariate

        def session_start() -> int:
            if span > 0:
                hour = min(max(bisect_right(cumulative, base + rnd() * span), lo_h), hi_h - 1)
                moment = hour * HOUR_MS + int(rnd() * HOUR_MS)
            else:
                moment = lo + int(rnd() * (hi - lo))
            return min(max(moment, lo), hi - 1)

        out: list[int] = []
        extra_rate = 1.0 / self.mean_extra if self.mean_extra > 0 else 0.0
        gap_rate = 1.0 / self.mean_gap_ms
        while len(out) < count:
            length = 1 + (int(expo(extra_rate)) if extra_rate else 0)
            moment = session_start()
            for _ in range(min(length, count - len(out))):
                out.append(moment)
                moment += 1 + int(expo(gap_rate))
                if moment >= hi:
                    moment = session_start()
        return out


class SlotTiming:
    """Dispatcher-driven traffic: work goes out in shared time slots, front-loaded, around
    the clock, so every account of one operation fires in the same slots."""

    __slots__ = ("slot_ms", "slots")

    def __init__(self, slots: list[int], slot_ms: int):
        self.slots = slots
        self.slot_ms = slot_ms

    def times(self, rng: random.Random, count: int, lo: int, hi: int) -> list[int]:
        slot_ms = self.slot_ms
        usable = [s for s in self.slots if lo <= s * slot_ms and (s + 1) * slot_ms <= hi]
        if not usable:
            usable = list(range(-(-lo // slot_ms), hi // slot_ms)) or [lo // slot_ms]
        choice, expo = rng.choice, rng.expovariate
        rate = 4.0 / slot_ms
        out = []
        for _ in range(count):
            offset = min(int(expo(rate)), slot_ms - 1)
            out.append(min(max(choice(usable) * slot_ms + offset, lo), hi - 1))
        return out


class FixedTiming:
    """Times computed elsewhere (the ring's shift schedule)."""

    __slots__ = ("planned",)

    def __init__(self):
        self.planned: list[int] = []

    def times(self, rng: random.Random, count: int, lo: int, hi: int) -> list[int]:
        return self.planned


class WaveTiming:
    """A campaign scheduler's waves: the account's sessions start only inside the waves it
    was given, so the accounts of one operation work in the same minutes while each,
    taking part in only some waves, keeps hours like anyone's."""

    __slots__ = ("mean_extra", "mean_gap_ms", "waves")

    def __init__(self, waves: list[tuple[int, int]], mean_extra: float, mean_gap_ms: float):
        self.waves = waves
        self.mean_extra = mean_extra
        self.mean_gap_ms = mean_gap_ms

    def times(self, rng: random.Random, count: int, lo: int, hi: int) -> list[int]:
        spans = [(max(s, lo), min(e, hi)) for s, e in self.waves if min(e, hi) - max(s, lo) > 0]
        if not spans:
            spans = [(lo, hi)]
        cumulative, total = [], 0
        for start, end in spans:
            total += end - start
            cumulative.append(total)
        rnd, expo = rng.random, rng.expovariate

        def session_start() -> int:
            point = rnd() * total
            start, end = spans[min(bisect_right(cumulative, point), len(spans) - 1)]
            return start + int(rnd() * (end - start))

        out: list[int] = []
        extra_rate = 1.0 / self.mean_extra
        gap_rate = 1.0 / self.mean_gap_ms
        while len(out) < count:
            length = 1 + int(expo(extra_rate))
            moment = session_start()
            for _ in range(min(length, count - len(out))):
                out.append(moment)
                moment += 1 + int(expo(gap_rate))
                if moment >= hi:
                    moment = session_start()
        return out


Timing = SessionTiming | SlotTiming | FixedTiming | WaveTiming
