"""Links from when the accounts act: in lockstep, or handing work over at the limit."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from evidence.detectors.link_base import STRONG, FoundLink, LinkContext, link_kind
from evidence.detectors.registry import MEASURED_ON, Methodology
from evidence.detectors.sync_null import (
    DEFAULT_DRAWS,
    EXCEEDANCES,
    NullTest,
    Screen,
    pairs_linked,
    pairs_linked_apart,
    smallest_p,
)
from evidence.models import ClauseCategory

BUCKET_SECONDS = 300
SYNC_MIN_BUCKETS = 20
SYNC_MIN_COMMON = 10
SYNC_MIN_RATIO = 1.5
# Many pairs are examined at once: among the links reported, the expected share that are
# coincidences is kept at this rate (Benjamini-Hochberg over every pair examined).
SYNC_FAMILY_P = 0.01
SYNC_PER_ACCOUNT = 2
HANDOFF_HOT_SHARE = 0.5
HANDOFF_MIN_REQUESTS = 100
HANDOFF_THROTTLED_SHARE = 0.01
HANDOFF_MIN_THROTTLED = 5
HANDOFF_GAP_MINUTES = 10
HANDOFF_MIN = 3
HANDOFF_MIN_RATIO = 5.0


SYNCHRONISED = link_kind(
    "synchronised_activity",
    "Synchronised activity",
    (ClauseCategory.ACCOUNT_SHARING, ClauseCategory.LIMIT_CIRCUMVENTION),
    SYNC_FAMILY_P,
    Methodology(
        definition=(
            "Among accounts that fired an extraction signal: the number of "
            f"{BUCKET_SECONDS // 60}-minute intervals in which both were active, against a "
            "null model that keeps each account's own activity: which hours of which days "
            "it was active, and how many intervals in each, stay as recorded, and each "
            "hour's intervals are rotated by a random number of intervals (a circular shift "
            "within the hour, independently for every hour). The p-value is exact, over "
            "every combination of shifts (the distribution of the sum of the hours' counts, "
            "by convolution). A seeded Monte Carlo of K shifts checks each link: (1 + draws at "
            "least as high as observed) / (K + 1), K = PACTA_SYNC_NULL_DRAWS "
            f"({DEFAULT_DRAWS:,} unless set; a pair stops early once {EXCEEDANCES} draws "
            "reach the observed count), whose smallest value is 1/(K + 1), "
            f"{smallest_p(DEFAULT_DRAWS):.0e} by default. Each link records both."
        ),
        threshold=(
            f"At least {SYNC_MIN_COMMON} shared intervals and {SYNC_MIN_RATIO:g} times the "
            "number the null model expects, and an exact p-value passing the "
            f"Benjamini-Hochberg procedure at a false discovery rate of {SYNC_FAMILY_P:g} "
            "over every pair examined (a pair below the minimums counts with p = 1)."
        ),
        false_positives=(
            "Accounts driven by the same clock within the hour (two cron jobs at minute 0) "
            "or the same public event at the same minutes."
        ),
        error_rate=f"Fired for no ordinary account in {MEASURED_ON}.",
    ),
    version="3",  # 3: the Monte Carlo check draws three hours' shifts at once (other draws)
)
HANDOFF = link_kind(
    "rate_limit_handoff",
    "Rate-limit hand-off",
    (ClauseCategory.LIMIT_CIRCUMVENTION, ClauseCategory.ACCOUNT_SHARING),
    HANDOFF_MIN,
    Methodology(
        definition=(
            "Among accounts that were throttled (HTTP 429) on at least "
            f"{HANDOFF_THROTTLED_SHARE:.0%} of their requests (and {HANDOFF_MIN_THROTTLED} "
            "times at least) or share an API key with another account: runs of activity at "
            "at least "
            f"{HANDOFF_HOT_SHARE:.0%} of the plan's published per-minute limit, and how "
            "often one account "
            f"starts a run within {HANDOFF_GAP_MINUTES} minutes of the other stopping "
            "one, against the number expected by coincidence."
        ),
        threshold=(
            f"At least {HANDOFF_MIN} hand-offs and {HANDOFF_MIN_RATIO:g} times the "
            "coincidental number."
        ),
        false_positives="Two independent batch jobs scheduled back to back.",
        error_rate=f"Fired for no ordinary account in {MEASURED_ON}.",
    ),
)


def sync_null_draws() -> int:
    """K, the draws of the null model per pair (a setting: more draws, smaller p-values)."""
    draws = getattr(settings, "PACTA_SYNC_NULL_DRAWS", DEFAULT_DRAWS)
    if not isinstance(draws, int) or draws < 1:
        raise ImproperlyConfigured(f"PACTA_SYNC_NULL_DRAWS must be a positive integer: {draws!r}")
    return draws


SCREEN = Screen(
    min_common=SYNC_MIN_COMMON,
    min_ratio=SYNC_MIN_RATIO,
    false_discovery_rate=SYNC_FAMILY_P,
    per_account=SYNC_PER_ACCOUNT,
)


def synchronised_links(
    context: LinkContext, db=connection, *, draws: int | None = None, apart: bool = False
) -> list[FoundLink]:
    """`apart`: test the pairs in a child process (detection does when this runs beside
    the other finders, on its own connection)."""
    draws = sync_null_draws() if draws is None else draws
    candidates = sorted(a for a in context.suspects if a in context.activity.accounts)
    if len(candidates) < 2:
        return []
    window = context.activity.window
    with db.cursor() as cursor:
        # The candidates' own rows, through the (account, ts) index.
        cursor.execute(
            f"""
            SELECT account_id, array_agg(DISTINCT bucket) FROM (
              SELECT u.account_id,
                     (extract(epoch FROM date_bin('{BUCKET_SECONDS} seconds', u.ts,
                       timestamptz '2000-01-01'))::bigint / {BUCKET_SECONDS})::int AS bucket
              FROM evidence_usageevent u
              WHERE u.account_id = ANY(%(accounts)s) AND {window.sql}
            ) b
            GROUP BY account_id HAVING count(DISTINCT bucket) >= %(min)s
            """,
            {"accounts": candidates, "min": SYNC_MIN_BUCKETS, **window.params},
        )
        rows = cursor.fetchall()
    return synchronised_pairs(context, dict(rows), draws=draws, apart=apart)


def synchronised_pairs(
    context: LinkContext, intervals: dict[str, list[int]], *, draws: int, apart: bool = False
) -> list[FoundLink]:
    """The links among accounts given their active five-minute intervals (epoch // 300)."""
    test_pairs = pairs_linked_apart if apart else pairs_linked
    tested = test_pairs(intervals, draws=draws, screen=SCREEN)
    minutes = BUCKET_SECONDS // 60
    links = []
    for pair in tested.linked:
        x, y, t = pair.first, pair.second, pair.test
        links.append(
            context.link(
                x,
                y,
                SYNCHRONISED.code,
                STRONG,
                {
                    "interval_minutes": minutes,
                    "common_intervals": t.observed,
                    "expected_if_independent": round(t.expected, 2),
                    "active_intervals": {x: pair.first_intervals, y: pair.second_intervals},
                    "common_active_hours": t.common_hours,
                    "null_model": "circular shift within each hour of each account's activity",
                    "chance_probability": float(f"{t.p:.3g}"),
                    "probability_method": "exact, over every combination of within-hour shifts",
                    "null_draws": t.draws,
                    "null_max_draws": t.max_draws,
                    "monte_carlo_p": float(f"{t.monte_carlo_p:.3g}"),
                    "smallest_monte_carlo_p": float(f"{smallest_p(t.max_draws):.3g}"),
                    "pairs_examined": tested.examined,
                    "pairs_tested": tested.tested,
                    "correction": "Benjamini-Hochberg",
                    "false_discovery_rate": SYNC_FAMILY_P,
                    "threshold": float(f"{tested.threshold:.3g}"),
                },
                f"The two accounts were active in the same {minutes}-minute intervals "
                f"{t.observed:,} times; with each account's own hours of activity kept and "
                f"its intervals shifted at random within each hour, about {t.expected:.1f} "
                f"would be expected ({p_value_words(t)}).",
            )
        )
    return links


def p_value_words(test: NullTest) -> str:
    """The p-values as a sentence may state them: the exact one, and the Monte Carlo check
    never below what its draws can show."""
    exact = f"p = {test.p:.2g}, exact over every combination of shifts"
    if test.draws == test.max_draws and test.monte_carlo_p <= smallest_p(test.max_draws):
        return (
            f"{exact}; none of {test.max_draws:,} random shifts reached it, a Monte Carlo "
            f"p of {test.monte_carlo_p:.2g}, the smallest that many draws can give"
        )
    return f"{exact}; Monte Carlo check p = {test.monte_carlo_p:.2g} from {test.draws:,} draws"


def handoff_links(context: LinkContext, db=connection) -> list[FoundLink]:
    limits = context.activity.plan_limits
    window = context.activity.window
    # Candidates: accounts that ran into their limit (HTTP 429 on a noticeable share of
    # requests), and accounts that share API keys with others; both busy enough for runs
    # to mean something. Their minutes are read through the (account, ts) index.
    accounts = context.activity.accounts
    candidates = sorted(
        a
        for a, row in accounts.items()
        if row["requests"] >= HANDOFF_MIN_REQUESTS
        and (
            a in context.key_sharers
            or row["throttled"]
            >= max(HANDOFF_MIN_THROTTLED, HANDOFF_THROTTLED_SHARE * row["requests"])
        )
    )
    if len(candidates) < 2:
        return []
    with db.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT u.account_id,
                   (extract(epoch FROM date_trunc('minute', u.ts))::bigint / 60) AS minute,
                   count(*), sum(u.input_tokens + u.output_tokens)::bigint
            FROM evidence_usageevent u
            WHERE u.account_id = ANY(%(accounts)s) AND {window.sql}
            GROUP BY 1, 2 ORDER BY 1, 2
            """,
            {"accounts": candidates, **window.params},
        )
        minutes = cursor.fetchall()
    runs: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    current: dict[str, list] = {}
    for account_id, minute, requests, tokens in minutes:
        limit = limits.get(context.profiles[account_id]["plan"])
        load = max(requests / limit["rpm"], tokens / limit["tpm"]) if limit else requests / 20
        run = current.get(account_id)
        if run and minute - run[1] <= 2:
            run[1] = minute
            run[2] = max(run[2], load)
        else:
            if run:
                runs[account_id].append(tuple(run))
            current[account_id] = [minute, minute, load]
    for account_id, run in current.items():
        runs[account_id].append(tuple(run))
    hot = {
        a: [(s, e, load) for s, e, load in rs if e - s >= 2 and load >= HANDOFF_HOT_SHARE]
        for a, rs in runs.items()
    }
    starts = sorted((s, a) for a, rs in hot.items() for s, _, _ in rs)
    start_times = [s for s, _ in starts]
    handoffs: dict[tuple[str, str], list[tuple[int, int, str, str]]] = defaultdict(list)
    for a, rs in hot.items():
        for _, end, _ in rs:
            lo = bisect_left(start_times, end - 1)
            hi = bisect_right(start_times, end + HANDOFF_GAP_MINUTES)
            for start, b in starts[lo:hi]:
                if b != a:
                    handoffs[context.ordered(a, b)].append((end, start, a, b))
    window_minutes = max(1.0, (window.end - window.start).total_seconds() / 60)
    links = []
    for (x, y), events in sorted(handoffs.items()):
        count = len(events)
        expected = len(hot[x]) * len(hot[y]) * 2 * (HANDOFF_GAP_MINUTES + 1) / window_minutes
        if count < HANDOFF_MIN or count < HANDOFF_MIN_RATIO * expected:
            continue
        peak = max(load for acct in (x, y) for _, _, load in hot[acct])
        plan = context.profiles[x]["plan"]
        limit = limits.get(plan)
        limit_words = (
            f"the {plan} limit of {limit['tpm']:,} tokens or {limit['rpm']:,} requests a minute"
            if limit
            else "a busy rate"
        )
        examples = [
            {
                "stopped": dt.datetime.fromtimestamp(end * 60, dt.UTC),
                "by": a,
                "started": dt.datetime.fromtimestamp(start * 60, dt.UTC),
                "next": b,
            }
            for end, start, a, b in sorted(events)[:5]
        ]
        links.append(
            context.link(
                x,
                y,
                HANDOFF.code,
                STRONG,
                {
                    "handoffs": count,
                    "expected_by_chance": round(expected, 3),
                    "peak_share_of_limit": round(peak, 3),
                    "plan_limit": limit,
                    "gap_minutes": HANDOFF_GAP_MINUTES,
                    "examples": examples,
                },
                f"{count} times one of the two accounts started a high-rate run within "
                f"{HANDOFF_GAP_MINUTES} minutes of the other stopping one (peak "
                f"{peak:.0%} of {limit_words}); by coincidence about {expected:.1f} "
                "would be expected. Work handed over as each account neared its limit.",
                sample_queries=[
                    (
                        e["next"],
                        "u.ts >= %s::timestamptz AND u.ts < %s::timestamptz",
                        [e["started"], e["started"] + dt.timedelta(minutes=1)],
                    )
                    for e in examples[:2]
                ],
            )
        )
    return links
