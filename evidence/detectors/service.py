"""`detection_run`: every detector over the usage record, stored as one run and ledgered.

The Celery task and `manage.py detect` both call this one service. A run reads the record
in a single REPEATABLE READ transaction (every pass sees the same rows), writes its
findings, links and clusters with bulk inserts, and appends one "detected" ledger entry
carrying counts and a digest of everything it found: a million-row record produces one
entry, not a million. Running it twice is safe: the second run is simply a later run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb

from evidence.custody import events
from evidence.custody.canonical import canonical_json, json_native
from evidence.custody.ledger import Actor, actor_label
from evidence.detectors.activity import Activity, Window, activity_collect, activity_release
from evidence.detectors.baseline import Baseline, Cohorts
from evidence.detectors.cluster_identity import identities_assign
from evidence.detectors.clusters import Conduct, clusters_build
from evidence.detectors.error_rates import error_rates_measure
from evidence.detectors.exhibits import SampleQuery, samples_fetch, samples_of
from evidence.detectors.links import links_find
from evidence.detectors.measurements import measurements_keep
from evidence.detectors.registry import Measure, Signal, detector_versions, signals
from evidence.detectors.selectors import detection_run_latest
from evidence.models import (
    Account,
    Band,
    Cluster,
    ClusterMember,
    DetectionRun,
    Finding,
    Link,
)

logger = logging.getLogger(__name__)
SAMPLES_PER_FINDING = 3


@dataclass
class SignalResult:
    signal: Signal
    measure: Measure
    plan: str
    cohorts: Cohorts
    fired: bool = False
    explanation: str = ""
    samples: list[str] = field(default_factory=list)

    # The cohort a stored finding states: `cohorts` without the accounts under analysis.
    reported_cohorts: Cohorts | None = None

    @cached_property
    def baseline(self) -> Baseline:
        """Computed when asked: a run reports only a few accounts out of many."""
        return (self.reported_cohorts or self.cohorts).baseline(self.plan, self.measure.value)

    def compare_without(self, cohorts: Cohorts) -> None:
        """State this finding against `cohorts` (the cohort less the analysed accounts)."""
        self.reported_cohorts = cohorts
        self.__dict__.pop("baseline", None)


def detection_run(
    *,
    actor: Actor,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    run: DetectionRun | None = None,
    progress: Progress | None = None,
) -> DetectionRun:
    """Run every registered detector and store what they found as a new DetectionRun.

    `run`: a run already recorded as running (one asked for from the UI or the API, see
    `evidence.detectors.jobs`) to carry out, instead of a new one. `progress` is
    called with keyword figures (`step`, `detectors_done`, `detectors_total`,
    `accounts_active`, `rows_processed`) as the run goes; `evidence.progress` writes them
    where a person can watch.
    """
    label, _ = actor_label(actor)
    if run is None:
        run = DetectionRun.objects.create(
            started_at=timezone.now(), actor=label, detector_versions=detector_versions()
        )
    progress = progress or _no_progress
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic():
            snapshot = None
            if outermost:  # inside a caller's transaction, its snapshot rules apply
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    # Nothing written yet in this transaction: a second connection that
                    # imports the snapshot reads exactly what this one reads.
                    cursor.execute("SELECT pg_export_snapshot()")
                    snapshot = cursor.fetchone()[0]
            _run(
                run,
                actor=actor,
                window_start=window_start,
                window_end=window_end,
                snapshot=snapshot,
                progress=progress,
            )
            # On failure the rollback removes the temporary tables with everything else.
            activity_release()
    except BaseException as exc:
        DetectionRun.objects.filter(pk=run.pk).update(
            status=DetectionRun.Status.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    return run


class Progress(Protocol):
    def __call__(self, **figures: Any) -> None: ...


def _no_progress(**figures: Any) -> None:
    """Nobody is watching (`manage.py detect` prints the result when it is done)."""


class _Stopwatch:
    """Seconds per phase, kept in the run's counts so an operator can see where time goes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(now - self._last, 3)
        self._last = now


def _run(
    run: DetectionRun, *, actor, window_start, window_end, snapshot=None, progress: Progress
) -> None:
    clock = _Stopwatch()
    window = Window(window_start, window_end)
    total = len(signals())
    progress(step="reading the usage record", detectors_done=0, detectors_total=total)
    activity = activity_collect(window=window, snapshot=snapshot)
    clock.lap("aggregates")
    progress(accounts_active=len(activity.accounts))
    if not activity.accounts:
        _finish(run, actor=actor, window=window, counts={"accounts_active": 0}, digest="")
        return
    results = signals_evaluate(activity, progress=progress)
    conduct = {
        account_id: Conduct(
            extraction=[r.signal.code for r in rs if r.fired and r.signal.extraction],
            other=[r.signal.code for r in rs if r.fired and not r.signal.extraction],
        )
        for account_id, rs in results.items()
    }
    clock.lap("signals")
    suspects = {a for a, c in conduct.items() if c.extraction}
    progress(step="finding links between accounts")
    found, campaigns = links_find(activity, suspects=suspects, clock=clock)
    clustered = clusters_build(
        accounts=sorted(activity.accounts), conduct=conduct, links=found, campaigns=campaigns
    )
    progress(step="measuring the run's error rates")
    error_rates = error_rates_measure(
        activity=activity, conduct=conduct, clustered=clustered, links=found
    )
    clock.lap("clusters")
    # What a run stores: every measurement of the accounts in critical and high clusters
    # (the full picture a report needs, quiet signals included), and what fired for
    # anyone else. The rest of a million-row record is summarised in the counts.
    flagged = {a for c in clustered if c.band in (Band.CRITICAL, Band.HIGH) for a in c.accounts}
    reported = {
        account_id: [r for r in rs if r.fired or account_id in flagged]
        for account_id, rs in results.items()
        if account_id in flagged or conduct[account_id].level != "none"
    }
    _cohorts_exclude(reported, analysed=set(reported))
    for rs in reported.values():
        for r in rs:
            r.explanation = r.signal.explain(r.measure, r.baseline, r.fired)
    progress(step="fetching sample requests for the exhibits")
    _samples_fetch(reported)
    clock.lap("exhibits")
    progress(step="storing findings, links and clusters")
    counts, digest = _store(run, activity, results, reported, found, clustered)
    clock.lap("store")
    counts["error_rates"] = error_rates
    counts["measurements"] = measurements_keep(actor=actor, run=run, results=results)
    counts["seconds"] = clock.seconds
    _finish(run, actor=actor, window=window, counts=counts, digest=digest)
    logger.info("detection run %s finished: %s", run.pk, counts)


def signals_evaluate(
    activity: Activity, *, progress: Progress = _no_progress
) -> dict[str, list[SignalResult]]:
    """Measure every account with every signal and compare it with its plan cohort."""
    results: dict[str, list[SignalResult]] = defaultdict(list)
    accounts = activity.accounts
    for done, signal in enumerate(signals()):
        progress(
            step=f"measuring: {signal.name or signal.code}",
            detectors_done=done,
            rows_processed=done * len(accounts),
        )
        measures = {}
        for account_id, row in accounts.items():
            measure = signal.measure(row)
            if measure is not None:
                measures[account_id] = measure
        cohorts = Cohorts.build([(accounts[a]["plan"], a, m.value) for a, m in measures.items()])
        for account_id, measure in measures.items():
            result = SignalResult(signal, measure, accounts[account_id]["plan"], cohorts)
            result.fired = signal.fires(measure, result)
            results[account_id].append(result)
    progress(detectors_done=len(signals()), rows_processed=len(signals()) * len(accounts))
    return results


def _cohorts_exclude(reported: dict[str, list[SignalResult]], *, analysed: set[str]) -> None:
    """Every stored finding is compared with its plan cohort less the accounts under
    analysis (those the run reports on), so that a median never contains the accounts it is
    used against (issue #18). Whether a signal fired was decided on the whole population,
    before anyone was under analysis; the threshold a finding states is in the value's unit."""
    without: dict[int, Cohorts] = {}
    for rs in reported.values():
        for r in rs:
            key = id(r.cohorts)
            if key not in without:
                without[key] = r.cohorts.without(analysed)
            r.compare_without(without[key])


def _samples_fetch(reported: dict[str, list[SignalResult]]) -> None:
    """The first requests showing each fired pattern: exhibits a report can attach."""
    fired: dict[str, dict[str, Measure]] = defaultdict(dict)
    for account_id, results in reported.items():
        for result in results:
            if result.fired:
                fired[result.signal.code][account_id] = result.measure
    for signal in signals():
        if fired.get(signal.code):
            signal.samples_prepare(fired[signal.code])
    wanted: list[tuple[SignalResult, SampleQuery]] = []
    for account_id, results in reported.items():
        for result in results:
            condition = result.signal.sample_condition(result.measure) if result.fired else None
            if condition is not None:
                wanted.append((result, (account_id, condition[0], list(condition[1]))))
    found = samples_fetch([query for _, query in wanted], limit=SAMPLES_PER_FINDING)
    for result, query in wanted:
        result.samples = samples_of(found, query)


def _store(run, activity, results, reported, found, clustered) -> tuple[dict, str]:
    now = timezone.now()
    window = activity.window
    pk = {a: p["pk"] for a, p in activity.profiles.items()}
    missing = {a for a in reported if a not in pk}
    if missing:  # usage for accounts the account table lacks: ingest always creates them
        pk.update(
            dict(Account.objects.filter(account_id__in=missing).values_list("account_id", "pk"))
        )
    digest = hashlib.sha256()

    # This run is not finished yet: the latest finished one is the run before it.
    identities = identities_assign(
        clusters=[c.accounts for c in clustered], previous=detection_run_latest()
    )
    cluster_rows = [
        Cluster(
            run=run,
            identity=identity,
            score=c.score,
            band=c.band,
            size=len(c.accounts),
            explanation=c.explanation,
            evidence=json_native(c.evidence),
            created_at=now,
        )
        for c, identity in zip(clustered, identities, strict=True)
    ]
    Cluster.objects.bulk_create(cluster_rows, batch_size=5000)
    rows_copy(
        ClusterMember,
        ("cluster_id", "account_id"),
        (
            (row.pk, pk[a])
            for row, c in zip(cluster_rows, clustered, strict=True)
            for a in c.accounts
        ),
    )
    for c, identity in zip(clustered, identities, strict=True):
        digest.update(
            canonical_json(
                {"cluster": c.accounts, "identity": identity, "score": c.score, "band": c.band}
            ).encode()
            + b"\n"
        )

    finding_rows = []
    for account_id in sorted(reported):
        for result in reported[account_id]:
            baseline = result.baseline.as_dict()
            finding_rows.append(
                (
                    run.pk,
                    result.signal.code,
                    result.signal.version,
                    pk[account_id],
                    window.start,
                    window.end,
                    result.measure.value,
                    Jsonb(baseline),
                    result.signal.threshold_of(result),
                    result.fired,
                    result.explanation,
                    Jsonb(result.samples),
                    now,
                )
            )
            digest.update(
                canonical_json(
                    {
                        "account": account_id,
                        "detector": result.signal.code,
                        "version": result.signal.version,
                        "value": result.measure.value,
                        "baseline": baseline,
                        "fired": result.fired,
                        "samples": result.samples,
                    }
                ).encode()
                + b"\n"
            )
    rows_copy(Finding, FINDING_COLUMNS, finding_rows)

    versions = detector_versions()
    link_rows = []
    for link in sorted(found, key=lambda link: (link.kind, pk[link.a], pk[link.b])):
        evidence = json_native(link.evidence)
        link_rows.append(
            (
                run.pk,
                pk[link.a],
                pk[link.b],
                link.kind,
                versions[link.kind],
                link.strength,
                link.declared,
                Jsonb(evidence),
                link.explanation,
                Jsonb(link.samples),
                now,
            )
        )
        digest.update(
            canonical_json(
                {
                    "link": [link.a, link.b],
                    "kind": link.kind,
                    "strength": link.strength,
                    "declared": link.declared,
                    "evidence": evidence,
                }
            ).encode()
            + b"\n"
        )
    rows_copy(Link, LINK_COLUMNS, link_rows)

    bands = {band: 0 for band in Band.values}
    accounts_by_band = {band: 0 for band in Band.values}
    for c in clustered:
        bands[c.band] += 1
        accounts_by_band[c.band] += len(c.accounts)
    fired_by_signal = defaultdict(int)
    measured_by_signal = defaultdict(int)
    for rs in results.values():
        for r in rs:
            measured_by_signal[r.signal.code] += 1
            fired_by_signal[r.signal.code] += r.fired
    links_by_kind = defaultdict(int)
    for link in found:
        links_by_kind[f"{link.kind}:{link.strength}"] += 1
    counts = {
        "accounts_active": len(activity.accounts),
        "accounts_reported": len(reported),
        "findings": len(finding_rows),
        "findings_fired": sum(r.fired for rs in reported.values() for r in rs),
        "signals_measured": dict(sorted(measured_by_signal.items())),
        "signals_fired": dict(sorted(fired_by_signal.items())),
        "links": len(link_rows),
        "links_by_kind": dict(sorted(links_by_kind.items())),
        "clusters": len(cluster_rows),
        "clusters_by_band": bands,
        "accounts_by_band": accounts_by_band,
    }
    return counts, digest.hexdigest()


FINDING_COLUMNS = (
    "run_id",
    "detector",
    "detector_version",
    "account_id",
    "window_start",
    "window_end",
    "value",
    "baseline",
    "threshold",
    "fired",
    "explanation",
    "sample_request_ids",
    "created_at",
)
LINK_COLUMNS = (
    "run_id",
    "account_a_id",
    "account_b_id",
    "kind",
    "detector_version",
    "strength",
    "declared",
    "evidence",
    "explanation",
    "sample_request_ids",
    "created_at",
)


def rows_copy(model, columns: tuple[str, ...], rows) -> None:
    """COPY rows (tuples in `columns` order, JSON values wrapped in Jsonb) into a model's table.

    A run stores thousands of findings and links; building a model instance for each and
    compiling a bulk INSERT cost several times what the database spends storing them. The
    table's constraints and defaults still apply: COPY is checked like any INSERT.
    """
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _finish(run, *, actor, window, counts, digest) -> None:
    run.window_start, run.window_end = window.start, window.end
    run.counts = counts
    run.digest = digest
    run.status = DetectionRun.Status.FINISHED
    run.finished_at = timezone.now()
    run.save(
        update_fields=["window_start", "window_end", "counts", "digest", "status", "finished_at"]
    )
    events.detection_finished(actor=actor, run=run)
