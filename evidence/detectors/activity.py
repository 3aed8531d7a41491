"""The SQL passes: per-account aggregates over the usage table, for every detector at once.

A provider's usage table holds millions of rows, so detection reads it in aggregate
passes (GROUP BY account, with FILTER clauses and grouping sets) into small temporary
tables that live for one transaction, and never loads usage rows into Python:

- `det_account`  one row per account: requests, tokens, token-probability requests,
                 throttled requests, traffic around each model release;
- `det_template` one row per (account, prompt template key);
- `det_key`      one row per template key: how often and by how many accounts it was used,
                 whether it matches the reasoning or grader lexicon, its opening (scaffold);
- `det_infra`    one row per (account, source address), (account, API key) and
                 (account, hour of the day);

and (account, request shape) counts, read straight into Python.

Signals read the per-account rows this module returns; links query the temporary tables
(det_infra is read back by the pass itself, see `Infra`), and read the usage rows of a few
candidate accounts through the (account, ts) index.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from psycopg import sql

from evidence.custody.canonical import ACCOUNT_PROFILE_FIELDS, instant, instant_sql
from evidence.detectors.families import prompt_families
from evidence.detectors.lexicons import lexicon, lexicon_pattern
from evidence.models import Account, ModelRelease, PlanLimit

# A model counts as "released in the window" when the window holds the two days after it.
RELEASE_HOURS = 48
# Templates seen at most this often in the whole record are "near-unique".
NEAR_UNIQUE_USES = 3
# Templates used by at most this many accounts are "rare": shared, they point at one author.
RARE_TEMPLATE_ACCOUNTS = 5
# The opening of a prompt, digits masked: the scaffold a programme fills in.
SCAFFOLD_CHARS = 24

# Asking for the ten or more most likely alternatives of every token (or steering the
# distribution with logit_bias) recovers a model's output distribution, not just its text.
# jsonpath in lax mode: a missing or non-numeric field is simply false, never an error.
HARVEST_SQL = "u.params @? '$ ? (@.top_logprobs >= 10 || @.logprobs >= 10 || exists(@.logit_bias))'"

# GROUPING(source_ip, api_key_id, hour) of each grouping set in det_infra.
INFRA_BY_IP = 0b011
INFRA_BY_KEY = 0b101
INFRA_BY_HOUR = 0b110

# The shape of a request, as a harness sends it: client, endpoint, and the parameter names and
# values, less those that name one request or one user (token ids to bias, a user or seed, stop
# strings, metadata). jsonb prints its keys in one order, so equal shapes print equal text.
REQUEST_SHAPE_SQL = (
    "concat_ws(' | ', u.user_agent, u.endpoint, "
    "(u.params - ARRAY['logit_bias', 'user', 'seed', 'stop', 'metadata'])::text)"
)


@dataclass
class Window:
    """The span a run measures. Unbounded (the default) means the whole record: the passes
    then filter nothing, and the span is read from the account pass itself."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    # The SQL filter holds only the bounds the caller set; the others are read from the
    # record later and need no filter.
    _sql: str = field(init=False, default="TRUE")
    _params: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        conditions = []
        if self.start is not None:
            conditions.append("u.ts >= %(window_start)s")
            self._params["window_start"] = self.start
        if self.end is not None:
            conditions.append("u.ts <= %(window_end)s")
            self._params["window_end"] = self.end
        self._sql = " AND ".join(conditions) or "TRUE"

    @property
    def sql(self) -> str:
        return self._sql

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)


@dataclass(frozen=True)
class Release:
    """A model released inside the window: the two days after it are measured."""

    model: str
    released_at: dt.datetime

    @property
    def day_two(self) -> tuple[dt.datetime, dt.datetime]:
        """The second day after release: by then a deliberate switch is complete, while an
        ordinary product team is still testing."""
        return (
            self.released_at + dt.timedelta(hours=RELEASE_HOURS - 24),
            self.released_at + dt.timedelta(hours=RELEASE_HOURS),
        )


@dataclass
class Activity:
    """What the passes found: per-account rows, account profiles and the reference data."""

    window: Window
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    plan_limits: dict[str, dict[str, int]] = field(default_factory=dict)
    lexicons: dict[str, dict[str, Any]] = field(default_factory=dict)
    infra: Infra | None = None
    # The run's exported snapshot, for work on a second connection (None: one connection).
    snapshot: str | None = None


@dataclass
class Infra:
    """What the infrastructure pass read, for the rhythm signal and the link finders."""

    # (account_id, hour of the day, requests)
    hours: list[tuple] = field(default_factory=list)
    # (api_key_id, [account_id, ...], [requests, ...]) for keys used by several accounts
    shared_keys: list[tuple] = field(default_factory=list)
    # (account_id, address, its /24 or /48 network, prefix length, requests): addresses
    # requests came from, then sign-up addresses (requests 0)
    addresses: list[tuple] = field(default_factory=list)
    # (account_id, request shape, requests): see REQUEST_SHAPE_SQL
    shapes: list[tuple] = field(default_factory=list)
    # {template: family} for templates whose opening has near-duplicates (`families`)
    families: dict[str, int] = field(default_factory=dict)


def activity_collect(*, window: Window, snapshot: str | None = None) -> Activity:
    """Run the passes (inside the caller's transaction) and return the per-account rows.

    `snapshot` (from `pg_export_snapshot()` in the caller's REPEATABLE READ transaction)
    lets the template-key and request-shape passes run on a second connection that reads
    exactly the same rows, beside the passes on this one: PostgreSQL runs the (account,
    template) aggregate on one core, so the other core is free for them. Without a
    snapshot (a caller's transaction may hold rows no other connection can see) every pass
    runs here, one after the other.
    """
    activity = Activity(window=window, snapshot=snapshot)
    activity.plan_limits = {
        p.plan: {"rpm": p.requests_per_minute, "tpm": p.tokens_per_minute}
        for p in PlanLimit.objects.all()
    }
    activity.lexicons = {"reasoning": lexicon("reasoning"), "grader": lexicon("grader")}
    activity.profiles = _profiles()
    # Catalogue models released after the window's start (or, unbounded, after the first
    # account was opened) are measured; any still outside the window are dropped once the
    # pass has read its span.
    earliest = window.start
    if earliest is None:
        opened = [p["created_at"] for p in activity.profiles.values()]
        earliest = min(opened) if opened and None not in opened else None
    releases = ModelRelease.objects.order_by("released_at")
    if earliest is not None:
        releases = releases.filter(released_at__gte=earliest)
    catalogue = [Release(model=m.model, released_at=m.released_at) for m in releases]
    with connection.cursor() as cursor:
        # Hash aggregates of a few hundred thousand groups fit in memory instead of
        # spilling to disk; LOCAL ends with the transaction.
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        if snapshot is not None:
            cursor.execute(_ONE_PROCESS_A_CONNECTION)
        # With the run's snapshot, the template-key and request-shape passes (and the
        # lexicon matching, Python work on the distinct templates) run on a second
        # connection while this one runs the account, template and infrastructure passes:
        # the shape pass (the dearest grouping: it renders each request's parameters) and
        # the rest of the infrastructure pass were one pass on the second connection, which
        # then ran on alone for seconds after this one had finished.
        patterns = (lexicon_pattern("reasoning"), lexicon_pattern("grader"))
        side = SideWork(lambda db: _side_passes(db, window, patterns), snapshot=snapshot)
        _account_pass(cursor, activity, catalogue)
        _template_pass(cursor, window)
        activity.infra = _infra_pass(cursor, window)
        classified, activity.infra.families, activity.infra.shapes = side.result()
        if not activity.accounts:
            return activity  # an empty record (or window): nothing to measure
        for account_id, hour, requests in activity.infra.hours:
            account = activity.accounts.get(account_id)
            if account is not None:
                account["hour_histogram"][hour] = requests
        _key_table(cursor, classified)
        _template_stats(cursor, activity)
    return activity


TEMP_TABLES = (
    "det_account",
    "det_template",
    "det_key_flags",
    "det_key",
    "det_infra",
    "det_scaffold",
)


def activity_release() -> None:
    """Drop the run's temporary tables now, not at commit: a caller's transaction (a test,
    a batch of runs) may hold several runs."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")


def _profiles() -> dict[str, dict[str, Any]]:
    """Every account's profile, keyed by account id (read with SQL: see `instant_sql`)."""
    fields = ("pk", "account_id", *ACCOUNT_PROFILE_FIELDS)
    columns = [
        instant_sql(name) if name == "created_at" else ("id" if name == "pk" else name)
        for name in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {Account._meta.db_table}")
        rows = [dict(zip(fields, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        row["created_at"] = instant(row["created_at"])
    return {row["account_id"]: row for row in rows}


def _account_pass(cursor, activity: Activity, catalogue: list[Release]) -> None:
    window = activity.window
    params: dict[str, Any] = dict(window.params)
    release_columns = []
    for i, release in enumerate(catalogue):
        lo, hi = release.day_two
        params.update(
            {
                f"r{i}_model": release.model,
                f"r{i}_at": release.released_at,
                f"r{i}_lo": lo,
                f"r{i}_hi": hi,
                f"r{i}_before": release.released_at - dt.timedelta(days=7),
            }
        )
        day_two = f"u.ts >= %(r{i}_lo)s AND u.ts < %(r{i}_hi)s"
        tokens = "u.input_tokens + u.output_tokens"
        release_columns += [
            f"count(*) FILTER (WHERE {day_two}) AS r{i}_requests",
            f"coalesce(sum({tokens}) FILTER (WHERE {day_two}), 0)::bigint AS r{i}_tokens",
            f"coalesce(sum({tokens}) FILTER (WHERE {day_two} AND u.model = %(r{i}_model)s),"
            f" 0)::bigint AS r{i}_new_tokens",
            f"count(*) FILTER (WHERE u.ts >= %(r{i}_before)s AND u.ts < %(r{i}_at)s"
            f" AND u.model <> %(r{i}_model)s) AS r{i}_before_requests",
        ]
    extra = "".join(f",\n  {column}" for column in release_columns)
    cursor.execute(
        f"""
        CREATE TEMP TABLE det_account ON COMMIT DROP AS
        SELECT u.account_id,
          count(*) AS requests,
          coalesce(sum(u.input_tokens), 0)::bigint AS input_tokens,
          coalesce(sum(u.output_tokens), 0)::bigint AS output_tokens,
          count(*) FILTER (WHERE {HARVEST_SQL}) AS harvest_requests,
          count(*) FILTER (WHERE u.status = 429) AS throttled,
          count(*) FILTER (WHERE u.end_user <> '') AS end_user_requests,
          {instant_sql("min(u.ts)")} AS first_ts,
          {instant_sql("max(u.ts)")} AS last_ts{extra}
        FROM evidence_usageevent u
        WHERE {window.sql}
        GROUP BY u.account_id
        """,
        params,
    )
    cursor.execute("SELECT * FROM det_account")
    columns = [c.name for c in cursor.description]
    rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    if not rows:
        return
    for row in rows:
        row["first_ts"], row["last_ts"] = instant(row["first_ts"]), instant(row["last_ts"])
    if window.start is None:
        window.start = min(row["first_ts"] for row in rows)
    if window.end is None:
        window.end = max(row["last_ts"] for row in rows)
    latest = window.end - dt.timedelta(hours=RELEASE_HOURS)
    inside = [
        (i, release)
        for i, release in enumerate(catalogue)
        if window.start <= release.released_at <= latest
    ]
    activity.releases = [release for _, release in inside]
    for row in rows:
        account_id = row["account_id"]
        row["plan"] = activity.profiles.get(account_id, {}).get("plan", "")
        row["releases"] = [
            {
                "model": release.model,
                "released_at": release.released_at,
                "requests": row[f"r{i}_requests"],
                "tokens": row[f"r{i}_tokens"],
                "new_tokens": row[f"r{i}_new_tokens"],
                "before_requests": row[f"r{i}_before_requests"],
            }
            for i, release in inside
        ]
        for i in range(len(catalogue)):
            for name in ("requests", "tokens", "new_tokens", "before_requests"):
                del row[f"r{i}_{name}"]
        row["hour_histogram"] = [0] * 24
        activity.accounts[account_id] = row


WORK_MEM = "512MB"
# With two connections at work, one a core, parallel workers only compete with them (on the
# 1M bench they made the aggregate passes some 0.3 s slower); without a snapshot the passes
# run one after the other on one connection, and keep PostgreSQL's parallel plans.
_ONE_PROCESS_A_CONNECTION = "SET LOCAL max_parallel_workers_per_gather = 0"


def snapshot_connection(snapshot: str):
    """A second connection that sees exactly the caller's snapshot (it writes only its own
    temporary tables)."""
    side = connection.get_new_connection(connection.get_connection_params())
    side.autocommit = True
    side.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    side.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    side.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    side.execute(_ONE_PROCESS_A_CONNECTION)
    # Django sets its own connections' zone; timestamp literals read the same on this one.
    side.execute(sql.SQL("SET LOCAL TIME ZONE {}").format(sql.Literal(connection.timezone_name)))
    return side


class SideWork:
    """`work(db)` on a second connection in the run's snapshot, in a thread, while the run
    goes on with this one; without a snapshot (the run is inside a caller's transaction),
    on this connection when the result is asked for. Its failure is raised in the run's
    own thread."""

    def __init__(self, work, *, snapshot: str | None) -> None:
        self._work = work
        self._result = None
        self._failure: BaseException | None = None
        self._thread = None
        if snapshot is not None:
            side = snapshot_connection(snapshot)
            self._thread = threading.Thread(
                target=self._run, args=(side,), name="detection-side-connection"
            )
            self._thread.start()

    def _run(self, side) -> None:
        try:
            self._result = self._work(side)
            side.execute("COMMIT")
        except BaseException as exc:
            self._failure = exc
        finally:
            side.close()

    def result(self):
        if self._thread is None:
            return self._work(connection)
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self._result


def _key_pass(cursor, window: Window) -> list[tuple]:
    """One row per distinct template: its uses and one excerpt (a parallel aggregate).

    The excerpt is the smallest in byte order: the same one every run (so the lexicon flags
    and the run's digest reproduce), cheap to compare, and available on PostgreSQL 15,
    which has no any_value().
    """
    cursor.execute(
        f"""
        SELECT u.prompt_template_key, count(*), min(u.prompt_excerpt COLLATE "C")
        FROM evidence_usageevent u
        WHERE {window.sql} AND u.prompt_template_key <> ''
        GROUP BY u.prompt_template_key
        """,
        window.params,
    )
    return cursor.fetchall()


def _template_pass(cursor, window: Window) -> None:
    """(account, template) counts, without text: narrow enough to keep cheaply."""
    cursor.execute(
        f"""
        CREATE TEMP TABLE det_template ON COMMIT DROP AS
        SELECT u.account_id, u.prompt_template_key AS template, count(*) AS requests
        FROM evidence_usageevent u
        WHERE {window.sql} AND u.prompt_template_key <> ''
        GROUP BY u.account_id, u.prompt_template_key
        """,
        window.params,
    )
    # Temporary tables are never analysed by autovacuum: without statistics the planner
    # guesses a fraction of the rows and joins against this table by sorting (and compiling).
    cursor.execute("ANALYZE det_template")


def _side_passes(db, window: Window, patterns: tuple) -> tuple[list[tuple], dict, list]:
    """The template-key pass with its lexicon flags and prompt families, and the
    request-shape pass."""
    with db.cursor() as cursor:
        keys = _key_pass(cursor, window)
        # Python work on the distinct templates, in a thread while the shape pass runs in
        # PostgreSQL (this thread only waits for it).
        sketching = Sketching(keys, patterns)
        shapes = _shape_pass(cursor, window)
        classified, families = sketching.result()
        return classified, families, shapes


class Sketching(threading.Thread):
    """Lexicon flags and prompt families of the distinct templates, in a thread."""

    def __init__(self, keys: list[tuple], patterns: tuple) -> None:
        super().__init__(name="detection-templates")
        self.keys, self.patterns = keys, patterns
        self.outcome = None
        self.failure: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            families = prompt_families([(t, excerpt) for t, _, excerpt in self.keys])
            self.outcome = (_classify(self.keys, self.patterns), families)
        except BaseException as exc:  # raised in the caller's thread by `result`
            self.failure = exc

    def result(self):
        self.join()
        if self.failure is not None:
            raise self.failure
        return self.outcome


def _classify(keys: list[tuple], patterns: tuple) -> list[tuple]:
    """Lexicon flags and scaffold of each distinct template (Python: a trie-folded pattern
    tests every phrase in one pass, several times faster than LIKE with dozens of
    alternatives, and it runs once per template, not once per request)."""
    reasoning, grader = (pattern.search for pattern in patterns)
    digits = re.compile(r"[0-9]+").sub
    classified = []
    for template, uses, excerpt in keys:
        text = excerpt.lower()
        classified.append(
            (
                template,
                uses,
                reasoning(text) is not None,
                grader(text) is not None,
                digits("#", text[: SCAFFOLD_CHARS + 16])[:SCAFFOLD_CHARS],
            )
        )
    return classified


def _key_table(cursor, classified: list[tuple]) -> None:
    cursor.execute(
        """
        CREATE TEMP TABLE det_key_flags (
          template text, uses bigint, reasoning boolean, grader boolean, scaffold text
        ) ON COMMIT DROP
        """
    )
    with cursor.cursor.copy(
        "COPY det_key_flags (template, uses, reasoning, grader, scaffold) FROM STDIN"
    ) as copy:
        for row in classified:
            copy.write_row(row)
    cursor.execute(
        """
        CREATE TEMP TABLE det_key ON COMMIT DROP AS
        SELECT f.template, f.uses, c.accounts, f.reasoning, f.grader, f.scaffold
        FROM det_key_flags f
        JOIN (SELECT template, count(*) AS accounts FROM det_template GROUP BY template) c
          USING (template)
        """
    )
    cursor.execute("DROP TABLE det_key_flags")
    cursor.execute("CREATE UNIQUE INDEX ON det_key (template)")
    cursor.execute("ANALYZE det_key")


def _template_stats(cursor, activity: Activity) -> None:
    cursor.execute(
        """
        SELECT t.account_id,
               sum(t.requests)::bigint AS prompted,
               count(*) AS templates,
               max(t.requests) AS top_template_requests,
               coalesce(sum(t.requests) FILTER (WHERE k.uses <= %(near)s), 0)::bigint
                 AS near_unique,
               coalesce(sum(t.requests) FILTER (WHERE k.reasoning), 0)::bigint AS reasoning,
               coalesce(sum(t.requests) FILTER (WHERE k.grader), 0)::bigint AS grader,
               count(*) FILTER (WHERE k.accounts BETWEEN 2 AND %(rare)s) AS rare_templates
        FROM det_template t JOIN det_key k USING (template)
        GROUP BY t.account_id
        """,
        {"near": NEAR_UNIQUE_USES, "rare": RARE_TEMPLATE_ACCOUNTS},
    )
    columns = [c.name for c in cursor.description]
    for values in cursor.fetchall():
        row = dict(zip(columns, values, strict=True))
        account = activity.accounts.get(row.pop("account_id"))
        if account is not None:
            account.update(row)
    for account in activity.accounts.values():
        for name in columns[1:]:
            account.setdefault(name, 0)


def _shape_pass(cursor, window: Window) -> list[tuple]:
    """(account, request shape, requests): see REQUEST_SHAPE_SQL."""
    cursor.execute(
        f"""
        SELECT u.account_id, {REQUEST_SHAPE_SQL}, count(*)
        FROM evidence_usageevent u
        WHERE {window.sql}
        GROUP BY 1, 2
        """,
        window.params,
    )
    return cursor.fetchall()


def _infra_pass(cursor, window: Window) -> Infra:
    """(account, address), (account, API key) and (account, hour) counts in one
    grouping-sets pass, read back at once."""
    cursor.execute(
        f"""
        CREATE TEMP TABLE det_infra ON COMMIT DROP AS
        SELECT u.account_id, u.source_ip, u.api_key_id,
               date_part('hour', u.ts AT TIME ZONE 'UTC')::int AS hour,
               GROUPING(u.source_ip, u.api_key_id,
                        date_part('hour', u.ts AT TIME ZONE 'UTC')::int) AS grouping,
               count(*) AS requests
        FROM evidence_usageevent u
        WHERE {window.sql}
        GROUP BY GROUPING SETS (
          (u.account_id, u.source_ip),
          (u.account_id, u.api_key_id),
          (u.account_id, date_part('hour', u.ts AT TIME ZONE 'UTC')::int)
        )
        """,
        window.params,
    )
    infra = Infra()
    cursor.execute(
        "SELECT account_id, hour, requests FROM det_infra WHERE grouping = %s",
        [INFRA_BY_HOUR],
    )
    infra.hours = cursor.fetchall()
    cursor.execute(
        """
        SELECT api_key_id, array_agg(account_id ORDER BY account_id),
               array_agg(requests ORDER BY account_id)
        FROM det_infra
        WHERE grouping = %s AND api_key_id <> ''
        GROUP BY api_key_id HAVING count(*) > 1
        """,
        [INFRA_BY_KEY],
    )
    infra.shared_keys = cursor.fetchall()
    cursor.execute(
        """
        SELECT account_id, host(source_ip),
               host(network(set_masklen(source_ip,
                    CASE WHEN family(source_ip) = 4 THEN 24 ELSE 48 END))),
               CASE WHEN family(source_ip) = 4 THEN 24 ELSE 48 END,
               requests
        FROM det_infra WHERE grouping = %s AND source_ip IS NOT NULL
        UNION ALL
        SELECT account_id, host(signup_ip),
               host(network(set_masklen(signup_ip,
                    CASE WHEN family(signup_ip) = 4 THEN 24 ELSE 48 END))),
               CASE WHEN family(signup_ip) = 4 THEN 24 ELSE 48 END,
               0
        FROM evidence_account WHERE signup_ip IS NOT NULL
        """,
        [INFRA_BY_IP],
    )
    infra.addresses = cursor.fetchall()
    cursor.execute("DROP TABLE det_infra")
    return infra
