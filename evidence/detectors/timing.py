"""Links from when the accounts act: in lockstep, or handing work over at the limit."""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from operator import mul

from django.db import connection

from evidence.detectors.link_base import STRONG, FoundLink, LinkContext, link_kind
from evidence.detectors.registry import MEASURED_ON, Methodology
from evidence.models import ClauseCategory

BUCKET_SECONDS = 300
SYNC_MIN_BUCKETS = 20
SYNC_MIN_COMMON = 10
SYNC_MAX_P = 1e-6
# Many pairs are examined at once: the chance that any one of them passes by coincidence is
# kept below this (Bonferroni), so the threshold tightens as the suspects grow in number.
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
    SYNC_MAX_P,
    Methodology(
        definition=(
            "Among accounts that fired an extraction signal: the number of "
            f"{BUCKET_SECONDS // 60}-minute intervals in which both were active, against "
            "the number expected if they acted independently with their own hour-of-day "
            "rhythms (Poisson tail probability)."
        ),
        threshold=(
            f"At least {SYNC_MIN_COMMON} shared intervals, three times the expected "
            f"number, and a chance probability below {SYNC_MAX_P:g}, or below "
            f"{SYNC_FAMILY_P:g} divided by the number of pairs examined when that is lower "
            "(so that among all the pairs, one passing by coincidence stays unlikely)."
        ),
        false_positives="Accounts driven by the same public event or the same clock.",
        error_rate=f"Fired for no ordinary account in {MEASURED_ON}.",
    ),
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


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean), summed in log space (no SciPy in the stack)."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    log_term = -mean + k * math.log(mean) - math.lgamma(k + 1)
    total, term, i = 0.0, math.exp(log_term), k
    while term > 1e-300 and i < k + 10_000:
        total += term
        i += 1
        term *= mean / i
        if term < total * 1e-12:
            break
    return min(1.0, total)


def synchronised_links(context: LinkContext, db=connection) -> list[FoundLink]:
    candidates = sorted(a for a in context.suspects if a in context.activity.accounts)
    if len(candidates) < 2:
        return []
    window = context.activity.window
    first = int(window.start.timestamp()) // BUCKET_SECONDS
    last = int(window.end.timestamp()) // BUCKET_SECONDS
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
    per_hour = 3600 // BUCKET_SECONDS
    buckets_in_hour = Counter((b // per_hour) % 24 for b in range(first, last + 1))
    bits, weights, sizes = {}, {}, {}
    for account_id, buckets in rows:
        value = 0
        hours = [0] * 24
        for bucket in buckets:
            value |= 1 << (bucket - first)
            hours[(bucket // per_hour) % 24] += 1
        bits[account_id] = value
        sizes[account_id] = len(buckets)
        weights[account_id] = [
            hours[h] / math.sqrt(buckets_in_hour[h]) if buckets_in_hour[h] else 0.0
            for h in range(24)
        ]
    names = sorted(bits)
    # Screen every pair with the Chernoff bound on the Poisson tail (cheap, and never below
    # the exact tail), rank by it, and compute the exact probability for the pairs kept.
    # The threshold for this run: stricter when more pairs are examined (Bonferroni).
    max_p = min(SYNC_MAX_P, SYNC_FAMILY_P / max(1, len(names) * (len(names) - 1) // 2))
    screen = math.log(max_p) + math.log(1e4)
    best: dict[str, list[tuple[float, str, str, int, float]]] = defaultdict(list)
    for i, x in enumerate(names):
        bx, wx = bits[x], weights[x]
        for y in names[i + 1 :]:
            common = (bx & bits[y]).bit_count()
            if common < SYNC_MIN_COMMON:
                continue
            expected = sum(map(mul, wx, weights[y]))
            if common < 3 * expected or expected <= 0:
                continue
            bound = common - expected - common * math.log(common / expected)
            if bound > screen:
                continue
            entry = (bound, x, y, common, expected)
            best[x].append(entry)
            best[y].append(entry)
    chosen = set()
    for entries in best.values():
        entries.sort()
        chosen.update(entries[:SYNC_PER_ACCOUNT])
    minutes = BUCKET_SECONDS // 60
    links = []
    for _, x, y, common, expected in sorted(chosen, key=lambda e: (e[1], e[2])):
        p = poisson_tail(common, expected)
        if p > max_p:
            continue
        links.append(
            context.link(
                x,
                y,
                SYNCHRONISED.code,
                STRONG,
                {
                    "interval_minutes": minutes,
                    "common_intervals": common,
                    "expected_if_independent": round(expected, 2),
                    "active_intervals": {x: sizes[x], y: sizes[y]},
                    "chance_probability": float(f"{p:.3g}"),
                    "pairs_examined": len(names) * (len(names) - 1) // 2,
                    "threshold": float(f"{max_p:.3g}"),
                },
                f"The two accounts were active in the same {minutes}-minute intervals "
                f"{common:,} times; acting independently, with their own daily rhythms, "
                f"about {expected:.1f} would be expected (chance probability "
                f"{_probability_words(p)}).",
            )
        )
    return links


def _probability_words(p: float) -> str:
    if p < 1e-12:
        return "below one in a trillion"
    return f"about 1 in {1 / p:,.0f}" if p > 0 else "below one in a trillion"


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
