"""Reads of detection results: the latest run, and a run as `detect --json` prints it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import QuerySet

from evidence.access import record_reader
from evidence.models import Cluster, ClusterMember, DetectionRun, Finding, Link


def detection_run_latest() -> DetectionRun | None:
    """The run the UI shows: the most recent one that finished."""
    return (
        DetectionRun.objects.filter(status=DetectionRun.Status.FINISHED)
        .order_by("-finished_at", "-pk")
        .first()
    )


def detection_run_list(*, user) -> QuerySet[DetectionRun]:
    """The runs a user may watch, newest first: every run for a record reader (runs are the
    record's analysis, not tied to a case), none for anyone else."""
    if not record_reader(user):
        return DetectionRun.objects.none()
    return DetectionRun.objects.select_related("progress__requested_by").order_by(
        "-started_at", "-pk"
    )


def detection_run_get(*, user, pk: int) -> DetectionRun | None:
    """One run the user may watch, or None (the same answer for "none" and "not yours")."""
    return detection_run_list(user=user).filter(pk=pk).first()


def detection_report(run: DetectionRun) -> dict[str, Any]:
    """`{"accounts": {id: [finding...]}, "clusters": [...]}`, the command-line contract.

    Each read is fetched whole, not through a server-side cursor (`iterator()`): PostgreSQL
    plans a cursor for its first rows, and read just after the run that wrote them, before
    any statistics count them, the findings were joined to the accounts by a nested loop
    over every account for each finding (ten seconds on the 1M bench, against a tenth).
    The report holds every row in memory anyway.
    """
    accounts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    findings = (
        Finding.objects.filter(run=run, account__isnull=False)
        .order_by("account__account_id", "detector")
        .values_list(
            "account__account_id",
            "detector",
            "detector_version",
            "fired",
            "value",
            "baseline",
            "threshold",
            "explanation",
            "sample_request_ids",
        )
    )
    for (
        account_id,
        detector,
        version,
        fired,
        value,
        baseline,
        threshold,
        text,
        samples,
    ) in findings:
        accounts[account_id].append(
            {
                "signal": detector,
                "version": version,
                "fired": fired,
                "value": value,
                "baseline": baseline,
                "threshold": threshold,
                "explanation": text,
                "sample_request_ids": samples,
            }
        )
    members: dict[int, list[str]] = defaultdict(list)
    for cluster_id, account_id in (
        ClusterMember.objects.filter(cluster__run=run)
        .order_by("account__account_id")
        .values_list("cluster_id", "account__account_id")
    ):
        members[cluster_id].append(account_id)
    cluster_of = {a: c for c, accts in members.items() for a in accts}
    links: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a, b, kind, strength, declared, text, samples in (
        Link.objects.filter(run=run)
        .order_by("kind", "account_a__account_id", "account_b__account_id")
        .values_list(
            "account_a__account_id",
            "account_b__account_id",
            "kind",
            "strength",
            "declared",
            "explanation",
            "sample_request_ids",
        )
    ):
        cluster = cluster_of.get(a)
        if cluster is None or cluster != cluster_of.get(b):
            continue  # a weak link between clusters: context, shown with the account
        links[cluster].append(
            {
                "accounts": [a, b],
                "kind": kind,
                "strength": strength,
                "declared": declared,
                "explanation": text,
                "sample_request_ids": samples,
            }
        )
    clusters = [
        {
            "id": cluster.pk,
            "identity": cluster.identity,
            "accounts": members[cluster.pk],
            "links": links[cluster.pk],
            "score": cluster.score,
            "band": cluster.band,
            "explanation": cluster.explanation,
        }
        for cluster in Cluster.objects.filter(run=run).order_by("-score", "pk")
    ]
    return {
        "run": run.pk,
        "window": {"start": run.window_start, "end": run.window_end},
        "digest": run.digest,
        "accounts": dict(accounts),
        "clusters": clusters,
    }
