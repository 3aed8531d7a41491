"""Cluster identity: re-running detection after a small ingest keeps the names counsel use.

A cluster keeps its identity while most of its accounts stay together; a split keeps it
on the bigger part; a group of new accounts gets a new identity; `detect --json`, the API
and a case opened from the cluster all carry it.
"""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from casework.selectors import case_source_cluster
from casework.services import case_open_from_cluster
from evidence.detectors.cluster_identity import identities_inherited
from evidence.detectors.selectors import detection_run_latest
from evidence.detectors.service import detection_run
from evidence.ingest.service import ingest_file
from evidence.models import Account, Cluster, ClusterMember, DetectionRun
from tests.factories import ndjson_file, token_client, usage_event, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

# Groups of accounts paying with one card: a hard link, so each group is a cluster.
GROUPS = {
    "pf_amber": ["amber1", "amber2", "amber3", "amber4"],
    "pf_birch": ["birch1", "birch2", "birch3", "birch4", "birch5", "birch6"],
    "pf_cedar": ["cedar1", "cedar2"],
}


class Record:
    """Accounts and their usage, ingested for real, file after file."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.files = 0
        self.requests = 0

    def accounts(self, cards: dict[str, list[str]]) -> None:
        rows = [
            {
                "account_id": account_id,
                "email": f"ops@{account_id}.example",
                "country": "US",
                "payment_fingerprint": card,
                "plan": "tier-1",
                "created_at": "2025-10-01T00:00:00Z",
            }
            for card, members in cards.items()
            for account_id in members
        ]
        self._ingest("accounts", rows)
        usage = []
        for members in cards.values():
            for account_id in members:
                for _ in range(3):
                    self.requests += 1
                    usage.append(
                        usage_event(
                            self.requests,
                            account_id=account_id,
                            api_key_id=f"key_{account_id}",
                            source_ip=f"100.64.{len(account_id)}.{self.requests % 250}",
                            prompt="Summarise this support ticket in one sentence.",
                            params={"temperature": 0.7},
                        )
                    )
        self._ingest("usage", usage)

    def _ingest(self, kind: str, rows: list[dict]) -> None:
        self.files += 1
        path = ndjson_file(self.tmp_path / f"{kind}-{self.files}.ndjson", rows)
        result = ingest_file(actor="system:test", kind=kind, path=path)
        assert result.rejected == 0, result.errors[:3]


def identity_of(run: DetectionRun, account_id: str) -> str:
    return (
        ClusterMember.objects.select_related("cluster")
        .get(cluster__run=run, account__account_id=account_id)
        .cluster.identity
    )


def members_of(run: DetectionRun, identity: str) -> set[str]:
    return set(
        Cluster.objects.get(run=run, identity=identity).members.values_list("account_id", flat=True)
    )


def test_a_small_ingest_keeps_the_identities_of_unchanged_clusters(tmp_path):
    record = Record(tmp_path)
    record.accounts(GROUPS)
    first = detection_run(actor="system:test")
    before = {card: identity_of(first, members[0]) for card, members in GROUPS.items()}
    assert len(set(before.values())) == 3
    assert all(identity.startswith("C-") for identity in before.values())

    # A small ingest: one more account on the amber card, and a new pair of accounts.
    record.accounts({"pf_amber": ["amber5"], "pf_dune": ["dune1", "dune2"]})
    second = detection_run(actor="system:test")

    after = {card: identity_of(second, members[0]) for card, members in GROUPS.items()}
    assert after == before
    assert members_of(second, before["pf_amber"]) == {*GROUPS["pf_amber"], "amber5"}
    # The new pair: every account new, so a new identity, one never given before.
    dune = identity_of(second, "dune1")
    assert dune == identity_of(second, "dune2")
    assert dune not in Cluster.objects.filter(run=first).values_list("identity", flat=True)
    # A third run over the same record names every cluster as the second did.
    third = detection_run(actor="system:test")
    assert set(Cluster.objects.filter(run=third).values_list("identity", flat=True)) == set(
        Cluster.objects.filter(run=second).values_list("identity", flat=True)
    )


def test_a_cluster_that_splits_keeps_its_identity_on_the_bigger_part_only(tmp_path):
    record = Record(tmp_path)
    record.accounts(GROUPS)
    first = detection_run(actor="system:test")
    birch = identity_of(first, "birch1")

    # Two of the six birch accounts move to a card of their own: the cluster splits 4 + 2.
    record.accounts({"pf_birch_new": ["birch5", "birch6"]})
    second = detection_run(actor="system:test")

    assert identity_of(second, "birch1") == birch
    assert members_of(second, birch) == {"birch1", "birch2", "birch3", "birch4"}
    smaller = identity_of(second, "birch5")
    assert smaller != birch
    assert smaller not in Cluster.objects.filter(run=first).values_list("identity", flat=True)


def _stored_run(clusters: dict[str, list[str]]) -> DetectionRun:
    """A finished run holding `clusters` ({identity: account ids}) as stored clusters."""
    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status=DetectionRun.Status.FINISHED, actor="system:test"
    )
    for identity, accounts in clusters.items():
        cluster = Cluster.objects.create(
            run=run,
            identity=identity,
            score=10,
            band="review",
            size=len(accounts),
            explanation="test",
            created_at=now,
        )
        for account_id in accounts:
            account, _ = Account.objects.get_or_create(account_id=account_id)
            ClusterMember.objects.create(cluster=cluster, account=account)
    return run


def test_an_even_split_and_a_merge_are_settled_the_same_way_every_time():
    previous = _stored_run(
        {"C-0101": ["a", "b", "c", "d"], "C-0102": ["e", "f", "g"], "C-0103": ["h", "i"]}
    )
    # C-0101 splits 2 + 2 (a tie: the part holding the first account keeps it); C-0102
    # and C-0103 merge (the larger core keeps its identity, the other identity retires).
    new = [["c", "d"], ["a", "b"], ["e", "f", "g", "h", "i"], ["x", "y"]]
    assert identities_inherited(clusters=new, previous=previous) == [
        None,
        "C-0101",
        "C-0102",
        None,
    ]
    # A cluster that kept fewer than half of the old one's accounts is a different group.
    assert identities_inherited(clusters=[["e", "z"]], previous=previous) == [None]


def test_detect_json_and_the_api_carry_the_identity(tmp_path):
    Record(tmp_path).accounts(GROUPS)
    out = StringIO()
    call_command("detect", "--json", stdout=out)
    report = json.loads(out.getvalue())
    stored = dict(Cluster.objects.filter(run=report["run"]).values_list("pk", "identity"))
    assert {c["id"]: c["identity"] for c in report["clusters"]} == stored
    assert len(report["clusters"]) == 3

    reader = user_with_role("rhea", "counsel")
    listed = token_client(reader, "read").get("/api/v1/clusters/").json()
    assert {c["id"]: c["identity"] for c in listed["results"]} == stored


def test_a_case_keeps_pointing_at_the_cluster_it_was_opened_from(tmp_path, client):
    record = Record(tmp_path)
    record.accounts(GROUPS)
    first = detection_run(actor="system:test")
    opened = Cluster.objects.get(run=first, identity=identity_of(first, "amber1"))
    counsel = user_with_role("carla", "counsel")
    case = case_open_from_cluster(
        actor=counsel,
        cluster=opened,
        reference="CASE-AMBER",
        title="Amber",
        respondent="Unknown",
        window_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        window_end=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
    )
    attribution = case.case_accounts.first().basis_detail
    assert f"Detection run {first.pk}, cluster {opened.identity} " in attribution

    record.accounts({"pf_amber": ["amber5"]})
    second = detection_run(actor="system:test")
    case.refresh_from_db()
    assert case.source_cluster_id == opened.pk  # still the cluster it was opened from

    source = case_source_cluster(user=counsel, case=case, latest_run=detection_run_latest())
    assert source["cluster"].pk == opened.pk
    assert source["latest_run"].pk == second.pk
    assert source["latest"].identity == opened.identity
    assert source["latest"].size == 5

    client.force_login(counsel)
    page = client.get(reverse("case_detail", args=[case.reference])).content.decode()
    assert f"cluster {opened.identity}</a> of detection run {first.pk}" in page
    assert "This cluster in the latest run" in page and "5 accounts, band" in page
