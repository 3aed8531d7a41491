"""The synchronised-activity null model against a simulated population whose answer is known.

Issue #18: a Poisson count against the hour-of-day average called accounts "1 in 372 million"
synchronised when they merely kept the same restricted hours. These populations are built
so that the truth is known: independent accounts with one narrow rhythm must not be linked,
a pair that shares its actual minutes must be, and over many independent pairs the p-values
must behave as p-values (about alpha of them below alpha).
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from evidence.detectors.link_base import LinkContext
from evidence.detectors.sync_null import (
    INTERVALS_PER_HOUR,
    HourlyActivity,
    benjamini_hochberg,
    exact_tail,
    exact_tails,
    overlap_table,
    pair_hours,
    pair_seed,
    pairs_linked,
    pairs_linked_apart,
    shared_intervals,
    shift_test,
)
from evidence.detectors.timing import SCREEN, SYNC_FAMILY_P, synchronised_pairs

DAY0 = 1_767_225_600 // 86_400  # 2026-01-01, in days since the epoch
WINDOW_DAYS = 28


def morning(rng, days, per_hour=6, hour=9) -> list[int]:
    """Five-minute intervals (epoch // 300) of an account active only 09:00-10:00 UTC on
    `days`, using `per_hour` intervals of that hour chosen at random and independently."""
    out = []
    for day in days:
        start = ((DAY0 + day) * 24 + hour) * INTERVALS_PER_HOUR
        out.extend(int(start + i) for i in rng.choice(INTERVALS_PER_HOUR, per_hour, False))
    return out


def with_one_operator(rng, days, *, ordinary: int, per_hour: int) -> dict[str, list[int]]:
    """`ordinary` independent morning accounts, and acct_ring_a and acct_ring_b, both driven
    by one operator using `per_hour` intervals of each of its hours."""
    population = {f"acct_{i:02d}": morning(rng, days) for i in range(ordinary)}
    operator = morning(rng, days, per_hour=per_hour)
    population["acct_ring_a"] = operator
    population["acct_ring_b"] = list(operator)
    return population


def naive_poisson_p(x: list[int], y: list[int]) -> float:
    """The model issue #18 rejected: shared intervals against the hour-of-day average over
    the window, Poisson tail (what the detector printed as "1 in 372,648,537")."""
    per_hour_slots = WINDOW_DAYS * INTERVALS_PER_HOUR  # intervals of 09:00-10:00 in the window
    expected = len(x) * len(y) / per_hour_slots
    k = len(set(x) & set(y))
    return sum(math.exp(-expected + i * math.log(expected) - math.lgamma(i + 1)) for i in
               range(k, k + 200))  # fmt: skip


def context_for(accounts) -> LinkContext:
    profiles = {
        a: {"pk": i, "email": f"{a}@mail{i}.example", "country": "US", "created_at": None}
        for i, a in enumerate(sorted(accounts))
    }
    return LinkContext(types.SimpleNamespace(profiles=profiles), set(accounts))


def test_independent_accounts_with_one_narrow_rhythm_are_not_linked():
    rng = np.random.default_rng(7)
    shared_days = [2, 9, 16, 23]  # one business calendar: the same four mornings
    population = {f"acct_{i:02d}": morning(rng, shared_days) for i in range(30)}
    pairs = [(a, b) for a in population for b in population if a < b]

    # The naive Poisson links many of them at its own corrected threshold ...
    naive = [naive_poisson_p(population[a], population[b]) for a, b in pairs]
    assert sum(p < SYNC_FAMILY_P / len(pairs) for p in naive) >= 10

    # ... the shift null links none: they share no more than their rhythm makes likely.
    links = synchronised_pairs(context_for(population), population, draws=999)
    assert links == []
    tests = [
        shift_test(
            HourlyActivity.from_intervals(population[a]),
            HourlyActivity.from_intervals(population[b]),
            draws=999,
            seed=pair_seed(a, b),
        )
        for a, b in pairs[:60]
    ]
    assert sum(t.p <= 0.05 for t in tests) <= 8  # about 3 of 60 expected by chance
    assert sum(t.monte_carlo_p <= 0.05 for t in tests) <= 8
    assert all(abs(t.expected - 12.0) < 1e-9 for t in tests)  # 4 hours x 6 x 6 / 12


def test_a_pair_sharing_its_actual_minutes_is_linked_and_claims_no_more_than_its_draws():
    rng = np.random.default_rng(8)
    days = range(0, WINDOW_DAYS, 2)
    population = with_one_operator(rng, days, ordinary=12, per_hour=3)

    links = synchronised_pairs(context_for(population), population, draws=999)

    assert [(link.a, link.b) for link in links] == [("acct_ring_a", "acct_ring_b")]
    evidence = links[0].evidence
    assert evidence["common_intervals"] == 3 * len(days)
    assert evidence["expected_if_independent"] == 0.75 * len(days)  # 3 x 3 / 12 an hour
    # The exact p-value, over every combination of within-hour shifts, is far below the
    # Benjamini-Hochberg threshold over the 91 pairs examined (1% / 91 for the first rank).
    assert evidence["pairs_examined"] == 14 * 13 // 2
    assert evidence["chance_probability"] < 1e-12
    assert evidence["threshold"] == float(f"{SYNC_FAMILY_P / 91:.3g}")
    # The Monte Carlo check claims no more than its 999 draws can show.
    assert evidence["null_draws"] == evidence["null_max_draws"] == 999
    assert evidence["monte_carlo_p"] == evidence["smallest_monte_carlo_p"] == 0.001
    assert "exact over every combination of shifts" in links[0].explanation
    assert "none of 999 random shifts reached it, a Monte Carlo p of 0.001" in (
        links[0].explanation
    )
    assert "372" not in links[0].explanation and "1 in" not in links[0].explanation


def test_p_values_of_independent_pairs_are_roughly_uniform():
    rng = np.random.default_rng(9)
    p_values, monte_carlo = [], []
    for i in range(300):
        # Different rhythms and densities, but x and y independent given them.
        days = sorted(rng.choice(WINDOW_DAYS, int(rng.integers(3, 15)), replace=False))
        hour = int(rng.integers(0, 24))
        x = morning(rng, days, per_hour=int(rng.integers(2, 10)), hour=hour)
        y = morning(rng, days, per_hour=int(rng.integers(2, 10)), hour=hour)
        test = shift_test(
            HourlyActivity.from_intervals(x),
            HourlyActivity.from_intervals(y),
            draws=199,
            seed=[i],
        )
        p_values.append(test.p)
        monte_carlo.append(test.monte_carlo_p)
    for values in (np.asarray(p_values), np.asarray(monte_carlo)):
        for alpha in (0.05, 0.1, 0.25, 0.5):
            rate = float((values <= alpha).mean())
            spread = 3 * math.sqrt(alpha * (1 - alpha) / len(values))
            # Valid (never much above alpha) and not uselessly conservative (counts are
            # discrete, so ties push p up a little).
            assert rate <= alpha + spread, (alpha, rate)
            assert rate >= alpha / 2 - spread, (alpha, rate)


def test_draws_are_reproducible_and_the_count_is_checked():
    rng = np.random.default_rng(10)
    x = HourlyActivity.from_intervals(morning(rng, range(10)))
    y = HourlyActivity.from_intervals(morning(rng, range(10)))
    assert shift_test(x, y, draws=500, seed=pair_seed("a", "b")) == shift_test(
        x, y, draws=500, seed=pair_seed("b", "a")
    )
    with pytest.raises(ValueError, match="draws must be at least 1"):
        shift_test(x, y, draws=0, seed=1)


def test_the_exact_p_value_agrees_with_actual_random_shifts():
    rng = np.random.default_rng(12)
    for i in range(6):
        days = sorted(rng.choice(WINDOW_DAYS, 12, replace=False))
        x = morning(rng, days, per_hour=4)
        y = morning(rng, days, per_hour=4)
        y[: 2 * i] = x[: 2 * i]  # from independent to somewhat shared
        test = shift_test(
            HourlyActivity.from_intervals(x),
            HourlyActivity.from_intervals(y),
            draws=20_000,
            seed=[i],
        )
        if test.draws == test.max_draws:  # ran every draw: compare with its binomial spread
            spread = 4 * math.sqrt(max(test.p, 1e-4) * (1 - test.p) / test.draws) + 1e-4
            assert abs(test.monte_carlo_p - test.p) <= spread, (i, test)
        else:  # stopped at 10 exceedances: a rough estimate, the same order of magnitude
            assert test.p / 3 <= test.monte_carlo_p <= test.p * 3, (i, test)


def test_benjamini_hochberg_counts_every_pair_examined():
    passed, threshold = benjamini_hochberg({"a": 0.001, "b": 0.002, "c": 0.04}, tests=10, rate=0.01)
    assert passed == {"a", "b"} and threshold == pytest.approx(0.002)
    # The same p-values among 1,000 pairs examined: none survives.
    assert benjamini_hochberg({"a": 0.001, "b": 0.002}, tests=1000, rate=0.01) == (set(), 0.0)


def test_the_whole_run_arrays_give_each_pair_what_its_own_table_gives():
    """Detection computes every pair's shared intervals, common hours and exact tail in whole
    arrays (`shared_intervals`, `pair_hours`, `exact_tails`), sharing powers and partial
    convolutions between pairs; each pair must get exactly what it gets on its own."""
    rng = np.random.default_rng(13)
    population = []
    for _ in range(24):
        days = sorted(rng.choice(WINDOW_DAYS, int(rng.integers(4, 20)), replace=False))
        intervals = morning(rng, days, per_hour=int(rng.integers(1, 8)), hour=9)
        intervals += morning(rng, days[::2], per_hour=int(rng.integers(1, 12)), hour=14)
        population.append(intervals)
    population.append(list(population[0]))  # an exact copy: the largest possible overlap
    population.append([])  # an account with nothing shared at all
    activity = [HourlyActivity.from_intervals(x) for x in population]
    common = shared_intervals(activity)
    first, second = np.triu_indices(len(activity), k=1)
    hours = pair_hours(activity, first, second, chunk=7)  # several chunks
    observed, tails = exact_tails(hours, len(first))
    for k, (i, j) in enumerate(zip(first, second, strict=True)):
        table = overlap_table(activity[i], activity[j])
        assert common[i, j] == len(set(population[i]) & set(population[j])) == observed[k]
        assert np.array_equal(hours.table(k), table)
        expected = exact_tail(table, int(table[:, 0].sum())) if len(table) else 1.0
        assert tails[k] == pytest.approx(expected, rel=1e-9, abs=1e-300), (i, j)
    assert tails[len(first) - 1] == 1.0  # the empty account's last pair: nothing shared


def test_the_pairs_tested_in_a_child_process_are_the_pairs_tested_here():
    # Detection tests the pairs in a child process beside its other finders: what crosses
    # back (every p-value, to the last bit) must be what the same test gives in-process.
    rng = np.random.default_rng(12)
    days = range(0, WINDOW_DAYS, 2)
    population = with_one_operator(rng, days, ordinary=16, per_hour=4)
    population["acct_ring_c"] = population["acct_ring_a"][::2] + morning(rng, days, per_hour=1)

    here = pairs_linked(population, draws=499, screen=SCREEN)
    apart = pairs_linked_apart(population, draws=499, screen=SCREEN)

    assert apart == here
    assert [(p.first, p.second) for p in here.linked] == [
        ("acct_ring_a", "acct_ring_b"),
        ("acct_ring_a", "acct_ring_c"),
        ("acct_ring_b", "acct_ring_c"),
    ]
    assert here.examined == 19 * 18 // 2


def test_the_pairs_tested_in_batches_are_the_pairs_tested_at_once():
    # A dense population's pairs are tested a batch at a time to bound memory: the batches
    # share nothing but the powers of the hours' distributions, and change no answer.
    rng = np.random.default_rng(13)
    days = range(0, WINDOW_DAYS, 2)
    population = {f"acct_{i:02d}": morning(rng, days, per_hour=8) for i in range(10)}
    # Rings of different densities, each member adding minutes of its own: the pairs' hours
    # fall into many different distributions, which differ from one batch to the next.
    for ring, per_hour in (("a", 2), ("b", 4), ("c", 7)):
        operator = morning(rng, days, per_hour=per_hour)
        for member in range(4):
            own = morning(rng, days, per_hour=member + 1)
            population[f"acct_ring_{ring}{member}"] = operator + own

    at_once = pairs_linked(population, draws=199, screen=SCREEN)
    in_batches = pairs_linked(population, draws=199, screen=SCREEN, pairs_at_once=3)

    assert in_batches == at_once and at_once.tested >= 9
    assert {p.first[:10] for p in at_once.linked} == {"acct_ring_"}


def test_a_failure_in_the_child_process_is_raised_with_its_reason():
    with pytest.raises(
        RuntimeError, match=r"child process \(exit 1\): ValueError: invalid literal"
    ):
        pairs_linked_apart({"acct_a": ["not an interval"], "acct_b": [1]}, draws=9, screen=SCREEN)
