"""How rare two accounts' shared intervals are, against each account's own activity.

A coincidence probability is only as good as its null model. A Poisson count against the
hour-of-day average treats every interval of an hour as equally likely, so two accounts
that are both busy only on the same few mornings (one business calendar, one public event)
look "one in hundreds of millions" synchronised when nothing ties them. The null here keeps
everything about each account except the exact interval it used within the hour: which
hours of which days it was active, and how many intervals in each, stay as recorded; each
hour's intervals are rotated by a random whole number of intervals (a circular shift inside
the hour), independently for every hour. Only alignment finer than the hour, the thing a
shared operator or script produces, remains to be explained.

Under this null every one of the 12^H combinations of shifts (H hours both accounts were
active) is equally likely, and the shared intervals are a sum of independent per-hour
counts, so the p-value is computed exactly, over all of them, by convolving the per-hour
distributions: no sampling error, and it can be as small as the data make it. Beside it a
seeded Monte Carlo of K actual shifts is run as a check, p = (1 + draws at least as large as
observed) / (K + 1), whose smallest possible value is 1 / (K + 1); pairs that are plainly
ordinary stop early (Besag and Clifford's sequential p-value, after `EXCEEDANCES` draws
reach the observed count). Across the pairs one run examines, the Benjamini-Hochberg
procedure bounds the expected share of false links among those reported (the false
discovery rate); a pair not tested counts as examined with p = 1 (a valid, conservative
p-value), so screening pairs out never loosens the correction.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

INTERVALS_PER_HOUR = 12  # five-minute intervals
EXCEEDANCES = 10
DEFAULT_DRAWS = 9_999
RNG_SEED = 18  # fixed: a run reproduces, and so does its digest
_FULL = (1 << INTERVALS_PER_HOUR) - 1
_POPCOUNT = np.asarray([bin(v).count("1") for v in range(1 << INTERVALS_PER_HOUR)], np.int8)
# The intervals of each 12-bit mask, one 0/1 column per interval.
_BITS = (np.arange(1 << INTERVALS_PER_HOUR)[:, None] >> np.arange(INTERVALS_PER_HOUR)) & 1
_BATCH_CELLS = 2_000_000  # draws x hours held in memory at once
_SIGNATURE_CHUNK = 8_192  # pairs whose kinds are counted at once
_HOURS_PER_DRAW = 3  # 12**3 combinations of shifts fit one 16-bit draw
PAIRS_AT_ONCE = 8_192  # pairs whose common hours are held in memory at once


def smallest_p(draws: int) -> float:
    """The smallest p-value `draws` Monte Carlo draws can give: 1 / (K + 1)."""
    return 1.0 / (draws + 1)


@dataclass(frozen=True)
class HourlyActivity:
    """One account's active intervals, as a 12-bit mask for each clock hour it was active."""

    hours: np.ndarray  # sorted absolute hour numbers (epoch hours)
    masks: np.ndarray  # the intervals used in that hour, bit i = minutes 5i..5i+4

    @classmethod
    def from_intervals(cls, intervals) -> HourlyActivity:
        """From absolute five-minute interval numbers (epoch seconds // 300)."""
        values = np.unique(np.asarray(list(intervals), dtype=np.int64))
        hours, slot = np.divmod(values, INTERVALS_PER_HOUR)
        unique, first = np.unique(hours, return_index=True)
        masks = np.bitwise_or.reduceat(np.left_shift(1, slot), first) if len(values) else slot
        return cls(unique, masks.astype(np.int64))

    @property
    def intervals(self) -> int:
        return int(_POPCOUNT[self.masks].sum())


@dataclass(frozen=True)
class NullTest:
    """The result for one pair: observed shared intervals against the shifted draws."""

    observed: int
    expected: float  # the mean under the null, computed exactly
    p: float  # exact, over every combination of shifts
    monte_carlo_p: float  # (1 + draws reaching the observed count) / (draws + 1)
    draws: int  # draws made (fewer than the maximum when the pair stopped early)
    max_draws: int
    common_hours: int


def expected_matrix(
    activity: list[HourlyActivity], *, masks: np.ndarray | None = None
) -> np.ndarray:
    """The null model's expected shared intervals for every pair at once: in an hour both
    were active, k and l intervals share k * l / 12 on average over the rotations
    (`masks`: the accounts' `hour_masks`, when the caller has them already)."""
    masks = hour_masks(activity) if masks is None else masks
    counts = _POPCOUNT[masks].astype(np.float64)  # intervals a row and hour (0: inactive)
    return counts @ counts.T / INTERVALS_PER_HOUR


def overlap_table(x: HourlyActivity, y: HourlyActivity) -> np.ndarray:
    """For each hour both were active: shared intervals for each rotation of y's hour
    (column 0 is what happened)."""
    _, ix, iy = np.intersect1d(x.hours, y.hours, assume_unique=True, return_indices=True)
    return _rotation_counts(x.masks[ix], y.masks[iy])


@dataclass(frozen=True)
class PairHours:
    """The hours each pair of accounts was active in together, for many pairs at once: one
    row per pair and common hour, the rows of a pair consecutive and in hour order."""

    pair: np.ndarray  # which pair (an index into the caller's list of pairs)
    first: np.ndarray  # the first account's intervals in that hour (a 12-bit mask)
    second: np.ndarray  # the second account's

    def table(self, pair: int) -> np.ndarray:
        """One pair's rows: what `overlap_table` gives for it."""
        start, stop = np.searchsorted(self.pair, [pair, pair + 1])
        return _rotation_counts(self.first[start:stop], self.second[start:stop])


def shared_intervals(activity: list[HourlyActivity]) -> np.ndarray:
    """Every pair's shared active intervals at once (a matrix product of who was active in
    which interval), in place of a count per pair. Only intervals two or more accounts used
    are columns of the product: the others add nothing to any pair, and a long window holds
    many of them."""
    first = min((int(a.hours[0]) for a in activity if len(a.hours)), default=0)
    slots = [_slots(a, first) for a in activity]
    used = np.bincount(np.concatenate(slots)) if slots else np.zeros(0, np.int64)
    column = np.cumsum(used >= 2) - 1  # the column of each shared interval
    active = np.zeros((len(activity), int((used >= 2).sum())), np.float32)
    for i, own in enumerate(slots):
        active[i, column[own[used[own] >= 2]]] = 1
    # float32 counts whole numbers exactly up to 2**24 intervals, far beyond any window.
    return (active @ active.T).round().astype(np.int64)


def _slots(activity: HourlyActivity, first: int) -> np.ndarray:
    """The account's active intervals, numbered from the start of hour `first`."""
    bits = np.flatnonzero(_BITS[activity.masks].ravel())
    hours = activity.hours[bits // INTERVALS_PER_HOUR] - first
    return hours * INTERVALS_PER_HOUR + bits % INTERVALS_PER_HOUR


def hour_masks(activity: list[HourlyActivity]) -> np.ndarray:
    """One row an account, one column for each hour any of them was active: the account's
    intervals in that hour (a 12-bit mask; 0, not active)."""
    hours = _hours_of(activity)
    masks = np.zeros((len(activity), len(hours)), np.int16)
    for i, a in enumerate(activity):
        masks[i, np.searchsorted(hours, a.hours)] = a.masks
    return masks


def pair_hours(
    activity: list[HourlyActivity],
    first: np.ndarray,
    second: np.ndarray,
    *,
    chunk: int = 2048,
    masks: np.ndarray | None = None,
) -> PairHours:
    """The common hours of the pairs (first[k], second[k]), in whole arrays rather than one
    pair at a time: detection tests tens of thousands of pairs per run (`masks`: the
    accounts' `hour_masks`, when the caller has them already)."""
    masks = hour_masks(activity) if masks is None else masks
    pairs, xs, ys = [np.zeros(0, np.int64)], [np.zeros(0, np.int16)], [np.zeros(0, np.int16)]
    for start in range(0, len(first), chunk):
        x, y = masks[first[start : start + chunk]], masks[second[start : start + chunk]]
        row, hour = np.nonzero((x != 0) & (y != 0))  # row-major: by pair, then by hour
        pairs.append(row + start)
        xs.append(x[row, hour])
        ys.append(y[row, hour])
    return PairHours(np.concatenate(pairs), np.concatenate(xs), np.concatenate(ys))


def exact_tails(
    hours: PairHours, pairs: int, *, powers: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's observed shared intervals and `exact_tail` of it, for every pair at once.

    An hour's distribution over the rotations depends only on the two accounts' intervals
    in it, and few distributions occur (a hundred or so in a run): each pair's distribution
    is a convolution of a few powers of them. Pairs with the same powers share one
    distribution, and pairs whose powers begin alike share the convolution of the beginning.
    `powers` keeps the powers computed for one batch of pairs for the next.
    """
    observed = np.bincount(
        hours.pair, weights=_POPCOUNT[hours.first & hours.second], minlength=pairs
    ).astype(np.int64)
    if not len(hours.pair):
        return observed, np.ones(pairs)
    both, combination = np.unique(
        (hours.first.astype(np.int32) << INTERVALS_PER_HOUR) | hours.second, return_inverse=True
    )
    counts = _rotation_counts(both >> INTERVALS_PER_HOUR, both & _FULL)
    width = INTERVALS_PER_HOUR + 1
    histograms = np.zeros((len(both), width))
    np.add.at(histograms, (np.arange(len(both))[:, None], counts), 1)
    # Combinations of intervals with the same distribution over the rotations are one kind.
    kinds, kind_of_combination = np.unique(histograms, axis=0, return_inverse=True)
    steps = kinds / INTERVALS_PER_HOUR
    kind = kind_of_combination.ravel()[combination]
    # Each pair's signature: the kinds of its hours and how many hours of each, as one
    # number per kind (kind * 2**32 + hours), in order of kind.
    members: dict[tuple, list[int]] = defaultdict(list)
    for start in range(0, pairs, _SIGNATURE_CHUNK):
        stop = min(pairs, start + _SIGNATURE_CHUNK)
        rows = slice(*np.searchsorted(hours.pair, [start, stop]))
        cells = np.bincount(
            (hours.pair[rows] - start) * len(kinds) + kind[rows],
            minlength=(stop - start) * len(kinds),
        )
        present = np.flatnonzero(cells)
        owner, kind_of = np.divmod(present, len(kinds))
        terms = ((kind_of << 32) | cells[present]).tolist()
        bounds = np.searchsorted(owner, np.arange(stop - start + 1)).tolist()
        for k in range(stop - start):
            members[tuple(terms[bounds[k] : bounds[k + 1]])].append(start + k)
    powers = {} if powers is None else powers
    distribution_of = [kind.tobytes() for kind in kinds]
    prefix: list[tuple[int, np.ndarray]] = []  # the previous signature's partial products
    tails = [1.0] * pairs
    shared_counts = observed.tolist()
    upper: dict[tuple, np.ndarray] = {}  # P(power >= t) for each t, of each last power
    for signature in sorted(members):  # in order, so that neighbours share beginnings
        if not signature:
            continue
        # Every power but the last is convolved (neighbours share the beginning); the last
        # is summed against that: P(A + B >= n) = sum over a of P(A = a) P(B >= n - a), a
        # dot product where the whole convolution would cost the product of the lengths.
        *head, last = signature
        shared = 0
        while shared < min(len(prefix), len(head)) and prefix[shared][0] == head[shared]:
            shared += 1
        del prefix[shared:]
        for term in head[shared:]:
            step = _power_of(term, powers, distribution_of, steps)
            prefix.append((term, np.convolve(prefix[-1][1], step) if prefix else step))
        key = _power_key(last, distribution_of)
        if key not in upper:
            # Summed from the far end: the smallest tails are the most accurate. Index 0 is
            # certain (B >= 0), and past the end nothing is left (B cannot reach it).
            at_least = np.cumsum(_power_of(last, powers, distribution_of, steps)[::-1])[::-1]
            upper[key] = np.concatenate([[1.0], at_least[1:], [0.0]])
        at_least = upper[key]
        beginning = prefix[-1][1] if prefix else np.ones(1)
        reach = np.arange(len(beginning))
        for k in members[signature]:
            needed = np.clip(shared_counts[k] - reach, 0, len(at_least) - 1)
            tails[k] = min(1.0, float(beginning @ at_least[needed]))
    tails = np.asarray(tails)
    tails[observed <= 0] = 1.0
    return observed, tails


def _power_key(term: int, distribution_of: list) -> tuple[bytes, int]:
    """A power (kind << 32 | exponent) known by its distribution and its exponent: a
    kind's number is its batch's own."""
    return distribution_of[term >> 32], term & 0xFFFFFFFF


def _power_of(term: int, powers: dict, distribution_of: list, steps: np.ndarray) -> np.ndarray:
    """The distribution of `term`'s power (kind << 32 | exponent), computed once a run."""
    power = _power_key(term, distribution_of)
    if power not in powers:
        powers[power] = _power(steps[term >> 32], term & 0xFFFFFFFF)
    return powers[power]


def _hours_of(activity: list[HourlyActivity]) -> np.ndarray:
    return np.unique(np.concatenate([a.hours for a in activity])) if activity else np.zeros(0)


def _rotation_counts(xm: np.ndarray, ym: np.ndarray) -> np.ndarray:
    """For each hour, the shared intervals for each rotation of y's intervals (column 0 is
    what happened)."""
    shifts = np.arange(INTERVALS_PER_HOUR)
    ym = ym.astype(np.int64)
    rotated = ((ym[:, None] << shifts) | (ym[:, None] >> (INTERVALS_PER_HOUR - shifts))) & _FULL
    return _POPCOUNT[xm[:, None] & rotated].astype(np.int32)


def pair_seed(a: str, b: str) -> list[int]:
    """A seed that depends only on the pair, so each pair's draws are the same in every run
    and whatever else the run holds."""
    first, second = sorted((a, b))
    return [RNG_SEED, zlib.crc32(first.encode()), zlib.crc32(second.encode())]


def shift_test(
    x: HourlyActivity,
    y: HourlyActivity,
    *,
    draws: int,
    seed,
    table: np.ndarray | None = None,
    exact: float | None = None,
) -> NullTest:
    """Circular-shift test of the pair's shared intervals, up to `draws` draws (`exact`: the
    pair's exact tail when the caller has it already, from `exact_tails`)."""
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    table = overlap_table(x, y) if table is None else table
    hours = len(table)
    observed = int(table[:, 0].sum()) if hours else 0
    expected = float(table.mean(axis=1).sum()) if hours else 0.0
    if not hours or observed == 0:
        return NullTest(observed, expected, 1.0, 1.0, 0, draws, hours)
    exact = exact_tail(table, observed) if exact is None else exact
    rng = np.random.default_rng(seed)
    joints = _joint_tables(table)
    done = exceed = 0
    batch = 1_000  # the pairs tested are linked ones: most run all their draws
    while done < draws:
        size = min(batch, draws - done, max(1, _BATCH_CELLS // len(joints)))
        totals = np.zeros(size, dtype=np.int64)
        for joint in joints:
            totals += joint.take(rng.integers(0, len(joint), size=size, dtype=np.uint16))
        hits = np.flatnonzero(totals >= observed)
        if exceed + len(hits) >= EXCEEDANCES:
            # Sequential stop at the EXCEEDANCES-th draw reaching the observed count: p = h / L.
            stop = done + int(hits[EXCEEDANCES - exceed - 1]) + 1
            return NullTest(observed, expected, exact, EXCEEDANCES / stop, stop, draws, hours)
        exceed += len(hits)
        done += size
        batch *= 4
    return NullTest(observed, expected, exact, (1 + exceed) / (draws + 1), draws, draws, hours)


def _joint_tables(table: np.ndarray) -> list[np.ndarray]:
    """The hours in threes, each three as one table of its 12**3 combinations of shifts (the
    sum of the three hours' counts): one draw uniform on 1,728 is three independent shifts,
    so a draw of the null takes a third of the random numbers and lookups."""
    joints = []
    for start in range(0, len(table), _HOURS_PER_DRAW):
        joint = np.zeros(1, dtype=np.int64)
        for row in table[start : start + _HOURS_PER_DRAW]:
            joint = (joint[:, None] + row[None, :]).ravel()
        joints.append(joint)
    return joints


def exact_tail(table: np.ndarray, observed: int) -> float:
    """P(shared intervals >= observed) over every combination of within-hour shifts: the
    distribution of a sum of independent per-hour counts, by convolution.

    Hours with the same distribution of counts are convolved together by repeated squaring,
    and rows are grouped by an integer key rather than `np.unique(axis=0)`: detection runs
    this for tens of thousands of pairs, and the result is the same to rounding."""
    if observed <= 0:
        return 1.0
    width = INTERVALS_PER_HOUR + 1
    hours = len(table)
    offsets = (np.arange(hours) * width)[:, None]
    histograms = np.bincount((table + offsets).ravel(), minlength=hours * width)
    histograms = histograms.reshape(hours, width)
    # Each count is at most INTERVALS_PER_HOUR, so base `width` digits key a row exactly.
    keys = histograms @ (np.int64(width) ** np.arange(width, dtype=np.int64))
    order = np.argsort(keys, kind="stable")
    starts = np.flatnonzero(np.r_[True, keys[order][1:] != keys[order][:-1]])
    repeats = np.diff(np.r_[starts, hours])
    distribution = np.ones(1)
    for start, repeat in zip(starts, repeats, strict=True):
        distribution = np.convolve(
            distribution, _power(histograms[order[start]] / INTERVALS_PER_HOUR, int(repeat))
        )
    return float(min(1.0, distribution[observed:].sum()))


def _power(step: np.ndarray, times: int) -> np.ndarray:
    """The distribution of the sum of `times` independent draws from `step`."""
    result = None
    while times:
        if times & 1:
            result = step if result is None else np.convolve(result, step)
        times >>= 1
        if times:
            step = np.convolve(step, step)
    return result


def benjamini_hochberg(p_values: dict, *, tests: int, rate: float) -> tuple[set, float]:
    """The keys whose p-values pass at false discovery rate `rate` over `tests` tests (tests
    not in `p_values` count as not significant), and the largest passing threshold (0 when
    none passes)."""
    ranked = sorted(p_values.items(), key=lambda item: item[1])
    cut = 0
    for rank, (_, p) in enumerate(ranked, start=1):
        if p <= rate * rank / tests:
            cut = rank
    return {key for key, _ in ranked[:cut]}, (rate * cut / tests if cut else 0.0)


# --- the pairs of one run --------------------------------------------------------------------


@dataclass(frozen=True)
class Screen:
    """Which pairs are tested, and which are linked: the detector's thresholds."""

    min_common: int  # shared intervals a pair needs to be tested at all
    min_ratio: float  # and this many times what its own hours make likely
    false_discovery_rate: float  # Benjamini-Hochberg over every pair examined
    per_account: int  # links kept per account, the strongest


@dataclass(frozen=True)
class LinkedPair:
    first: str
    second: str
    test: NullTest
    first_intervals: int  # each account's active intervals in the window
    second_intervals: int


@dataclass(frozen=True)
class PairsTested:
    """What one run's synchronised-activity test found, and over how many pairs."""

    examined: int  # every pair of the accounts given
    tested: int  # the pairs that met the screen's minimums
    threshold: float  # the largest Benjamini-Hochberg threshold that passed (0: none)
    linked: list[LinkedPair]


def pairs_linked(
    intervals: dict[str, list[int]],
    *,
    draws: int,
    screen: Screen,
    pairs_at_once: int = PAIRS_AT_ONCE,
) -> PairsTested:
    """The pairs linked among accounts given their active five-minute intervals (epoch //
    300), each with its exact p-value and its Monte Carlo check (`pairs_at_once`: how many
    pairs' common hours are held in memory at once; the answer does not depend on it)."""
    names = sorted(intervals)
    activity = [HourlyActivity.from_intervals(intervals[a]) for a in names]
    examined = len(names) * (len(names) - 1) // 2
    # Shared intervals are counted for every pair (one matrix product); a pair is tested
    # against the null model when it meets the minimums (enough shared intervals, and
    # `min_ratio` times what its own hours make likely).
    common = shared_intervals(activity)
    masks = hour_masks(activity)
    expected = expected_matrix(activity, masks=masks)
    first, second = np.nonzero(
        np.triu((common >= screen.min_common) & (common >= screen.min_ratio * expected), k=1)
    )
    if not len(first):
        return PairsTested(examined, 0, 0.0, [])
    # The pairs' common hours in batches: a dense population's pairs share hundreds of
    # hours each, and held all at once they took gigabytes at 4M events.
    powers: dict = {}
    observed, tails = np.zeros(len(first), np.int64), np.ones(len(first))
    for start in range(0, len(first), pairs_at_once):
        batch = slice(start, start + pairs_at_once)
        hours = pair_hours(activity, first[batch], second[batch], masks=masks)
        observed[batch], tails[batch] = exact_tails(hours, len(first[batch]), powers=powers)
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(first, second, strict=True))}
    exact = {pair: float(tails[k]) for pair, k in index.items()}
    passed, threshold = benjamini_hochberg(exact, tests=examined, rate=screen.false_discovery_rate)
    # At most `per_account` links per account, the strongest (lowest p, then most shared).
    best: dict[int, list] = defaultdict(list)
    for pair in passed:
        entry = (exact[pair], -int(observed[index[pair]]), pair)
        best[pair[0]].append(entry)
        best[pair[1]].append(entry)
    chosen = set()
    for entries in best.values():
        chosen.update(e[2] for e in sorted(entries)[: screen.per_account])
    linked = []
    for i, j in sorted(chosen):
        x, y = names[i], names[j]
        # The Monte Carlo check accompanies what is reported: the linked pairs.
        test = shift_test(
            activity[i],
            activity[j],
            draws=draws,
            seed=pair_seed(x, y),
            exact=exact[(i, j)],
        )
        linked.append(LinkedPair(x, y, test, activity[i].intervals, activity[j].intervals))
    return PairsTested(examined, len(index), threshold, linked)


def pairs_linked_apart(
    intervals: dict[str, list[int]], *, draws: int, screen: Screen
) -> PairsTested:
    """`pairs_linked` in a child process, so that its seconds of arithmetic run on a core of
    their own beside the rest of detection rather than taking turns with it for Python's
    interpreter lock. A child Python started afresh, not a fork: detection runs inside
    Celery's worker processes, which may not fork children of their own, and this module
    needs neither Django nor the parent's state (it imports only numpy)."""
    if not sys.executable:  # an embedding host that cannot say which Python it runs
        return pairs_linked(intervals, draws=draws, screen=screen)
    request = {
        "intervals": intervals,
        "draws": draws,
        "screen": dataclasses.asdict(screen),
    }
    # -I: isolated from the environment's PYTHON* settings and, above all, without this
    # file's directory first on the module path, where `selectors.py` would shadow the
    # standard library module of that name.
    child = subprocess.run(  # noqa: S603 (this module, by the running interpreter)
        [sys.executable, "-I", __file__],
        input=json.dumps(request).encode(),
        capture_output=True,
        check=False,
    )
    if child.returncode != 0:
        report = child.stderr.decode(errors="replace").strip()
        reason = report.splitlines()[-1] if report else "no message"
        raise RuntimeError(
            "the synchronised-activity test failed in its child process (exit "
            f"{child.returncode}): {reason}\n{report}"
        )
    return _from_json(json.loads(child.stdout))


def _to_json(tested: PairsTested) -> dict:
    # Python's JSON writes each float as its shortest exact repr: the p-values cross
    # unchanged, and the run's digest with them.
    return dataclasses.asdict(tested)


def _from_json(payload: dict) -> PairsTested:
    linked = [
        LinkedPair(**{**pair, "test": NullTest(**pair["test"])}) for pair in payload["linked"]
    ]
    return PairsTested(payload["examined"], payload["tested"], payload["threshold"], linked)


def _child() -> None:
    """The child of `pairs_linked_apart`: a request on standard input, the result on
    standard output, as JSON."""
    request = json.load(sys.stdin)
    tested = pairs_linked(
        request["intervals"], draws=request["draws"], screen=Screen(**request["screen"])
    )
    json.dump(_to_json(tested), sys.stdout)


if __name__ == "__main__":
    _child()
