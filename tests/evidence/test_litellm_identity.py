"""LiteLLM identities: one user's key logged with and without its team is one customer.

LiteLLM logs some rows of a key without the key's team. Mapped row by row, the team's
rows and the user's rows stood under two accounts on one key, which detection read as a
key shared between two customers and banded High. A key belongs to one owner; two
genuinely different customers on one key still make the key-sharing link.
"""

from __future__ import annotations

import datetime as dt

import pytest

from evidence.detectors.service import detection_run
from evidence.ingest.service import ingest_file
from evidence.ingest.tuning import IngestTuning
from evidence.models import ApiKey, Band, Cluster, Link, UsageEvent
from tests.factories import ndjson_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
KEY = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"


def spend_log(n: int, *, key: str, user: str | None, team: str | None, **extra) -> dict:
    """One `LiteLLM_SpendLogs` row as LiteLLM exports it: an ordinary request."""
    start = T0 + dt.timedelta(hours=n % 9, days=n % 10, minutes=n % 50)
    return {
        "request_id": f"chatcmpl-{key[:6]}-{n}",
        "call_type": "acompletion",
        "api_key": key,
        "startTime": start.isoformat(),
        "model": "frontier-2",
        "user": user,
        "team_id": team,
        "requester_ip_address": "198.51.100.20",
        "prompt_tokens": 120,
        "completion_tokens": 340,
        "messages": [{"role": "user", "content": "Summarise this support ticket briefly."}],
        "status": "success",
        **extra,
    }


def ingest(tmp_path, name: str, rows: list[dict], **options) -> None:
    path = ndjson_file(tmp_path / name, rows)
    result = ingest_file(actor="system:test", kind="usage", path=path, fmt="litellm", **options)
    assert result.rejected == 0, result.errors[:3]


def accounts_of(key: str) -> set[str]:
    return set(UsageEvent.objects.filter(api_key_id=key).values_list("account_id", flat=True))


def accused(run) -> list[Cluster]:
    return list(Cluster.objects.filter(run=run, band__in=[Band.CRITICAL, Band.HIGH]))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_key_with_and_without_its_team_is_one_account_and_no_accusation(
    tmp_path, settings, workers
):
    # The rows without the team come first, and with workers in blocks parsed by another
    # process than the team's rows: the file is read whole before any row is mapped.
    settings.PACTA_INGEST_WORKERS = workers
    rows = [spend_log(n, key=KEY, user="u-7", team=None, status="failure") for n in range(5)]
    rows += [spend_log(n, key=KEY, user="u-7", team="team-blue") for n in range(5, 40)]
    ingest(tmp_path, "spend.ndjson", rows, tuning=IngestTuning(parallel_min_bytes=0, block_lines=5))

    assert accounts_of(KEY) == {"team-blue"}
    assert ApiKey.objects.get(key_id=KEY).account.account_id == "team-blue"
    run = detection_run(actor="system:test")
    assert accused(run) == []
    assert not Link.objects.filter(run=run, kind="key_sharing").exists()


def test_the_key_stays_with_one_account_across_files_in_either_order(tmp_path):
    other = "a" * 64
    # Team rows first, then a later export whose rows lost the team.
    ingest(
        tmp_path,
        "day1.ndjson",
        [spend_log(n, key=KEY, user="u-7", team="team-blue") for n in range(20)],
    )
    ingest(
        tmp_path,
        "day2.ndjson",
        [spend_log(n, key=KEY, user="u-7", team=None) for n in range(20, 30)],
    )
    # Rows without the team first, then a later export that names it.
    ingest(
        tmp_path, "day3.ndjson", [spend_log(n, key=other, user="u-9", team=None) for n in range(20)]
    )
    ingest(
        tmp_path,
        "day4.ndjson",
        [spend_log(n, key=other, user="u-9", team="team-red") for n in range(20, 30)],
    )

    assert accounts_of(KEY) == {"team-blue"}
    assert accounts_of(other) == {"u-9"}  # the account the key was first recorded under
    run = detection_run(actor="system:test")
    assert accused(run) == []
    assert not Link.objects.filter(run=run, kind="key_sharing").exists()


def test_the_team_can_come_from_litellm_metadata(tmp_path):
    rows = [
        spend_log(n, key=KEY, user="u-7", team=None, metadata={"user_api_key_team_id": "team-blue"})
        for n in range(10)
    ]
    ingest(tmp_path, "spend.ndjson", rows)
    assert accounts_of(KEY) == {"team-blue"}


def test_two_different_customers_on_one_key_still_make_the_key_sharing_link(tmp_path):
    rows = [spend_log(n, key=KEY, user="u-1", team="team-blue") for n in range(30)]
    rows += [spend_log(n, key=KEY, user="u-2", team="team-green") for n in range(30, 45)]
    # Rows without a team cannot say which of the two teams they belong to: their user's.
    rows += [spend_log(n, key=KEY, user="u-2", team=None) for n in range(45, 50)]
    ingest(tmp_path, "spend.ndjson", rows)

    assert accounts_of(KEY) == {"team-blue", "team-green", "u-2"}
    run = detection_run(actor="system:test")
    shared = Link.objects.filter(run=run, kind="key_sharing").select_related(
        "account_a", "account_b"
    )
    pairs = {frozenset((link.account_a.account_id, link.account_b.account_id)) for link in shared}
    assert frozenset(("team-blue", "team-green")) in pairs
    assert all(link.strength == "hard" and not link.declared for link in shared)
    # Sharing a credential is circumvention: the two customers are accused on it.
    assert [set(c.members.values_list("account_id", flat=True)) for c in accused(run)] == [
        {"team-blue", "team-green", "u-2"}
    ]
