"""Canaries: generated unique and new to the record, planned for accounts, served, and found
again in a rival's answers (whatever its case, spacing or punctuation)."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.utils import timezone

from evidence.custody.verification import record_check
from evidence.ingest.service import ingest_file
from evidence.models import (
    Account,
    Canary,
    CanaryAssignment,
    CanaryMatch,
    CanaryServe,
    Cluster,
    ClusterMember,
    DetectionRun,
    EvidenceItem,
    LedgerEntry,
)
from evidence.probes.canaries import canaries_generate, canaries_match, canary_normalised
from tests.factories import ndjson_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


class Rollback(Exception):
    pass


@pytest.fixture
def suspects(db, tmp_path) -> list[Account]:
    """Three accounts, on record as an accounts file records them."""
    rows = [{"account_id": f"acct_{n}", "org_name": f"Org {n}"} for n in (1, 2, 3)]
    ingest_file(
        actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "accounts.ndjson", rows)
    )
    return list(Account.objects.order_by("account_id"))


def generate(accounts, *, count=6, seed=11):
    return canaries_generate(actor="system:test", count=count, accounts=accounts, seed=seed)


def serve_line(canary_id, n, account="acct_1"):
    return {
        "canary_id": canary_id,
        "request_id": f"req_{n:04d}",
        "account_id": account,
        "served_at": "2026-06-02T08:15:00Z",
    }


def probe_line(n, response, *, target="rival-chat", **fields):
    return {
        "probe_id": f"p-{target}-{n}",
        "target": target,
        "collected_at": "2026-07-01T09:00:00Z",
        "prompt": f"Tell me something about old guilds ({n}).",
        "response": response,
        "collector": "investigator",
        **fields,
    }


def ingest(kind, tmp_path, rows, name="f.ndjson"):
    return ingest_file(actor="system:test", kind=kind, path=ndjson_file(tmp_path / name, rows))


# --- generation and the plan ------------------------------------------------------------


def test_canaries_are_unique_hashed_assigned_in_turn_and_exported_as_the_plan(suspects):
    plan = generate(suspects)
    canaries = list(Canary.objects.order_by("pk"))
    assert len(canaries) == 6
    assert len({c.canary_id for c in canaries}) == 6
    assert len({canary_normalised(c.text) for c in canaries}) == 6
    for canary in canaries:
        assert canary.sha256 == hashlib.sha256(canary.text.encode()).hexdigest()
    # Each canary goes to one account, the accounts in turn: a match names one account.
    assigned = [a.account.account_id for a in CanaryAssignment.objects.order_by("canary__pk", "pk")]
    assert assigned == ["acct_1", "acct_2", "acct_3"] * 2
    document = json.loads(plan.plan)
    assert [c["canary_id"] for c in document["canaries"]] == [c.canary_id for c in canaries]
    assert document["canaries"][1]["accounts"] == ["acct_2"]
    assert document["canaries"][1]["text"] == canaries[1].text
    assert document["serve_log"]["fields"] == ["canary_id", "request_id", "account_id", "served_at"]
    assert plan.canary_set.plan_sha256 == hashlib.sha256(plan.plan).hexdigest()
    kept = EvidenceItem.objects.get(pk=plan.plan_item.pk)
    assert kept.sha256 == plan.canary_set.plan_sha256
    entry = LedgerEntry.objects.get(object_type="canary_set", object_id=str(plan.canary_set.pk))
    assert entry.object_sha256 == plan.canary_set.plan_sha256
    assert entry.details["seed"] == 11 and entry.details["canaries"] == 6


def test_the_same_seed_reproduces_the_canaries(suspects):
    with pytest.raises(Rollback), transaction.atomic():
        first = [c.text for c in generate(suspects, seed=5).canaries]
        raise Rollback
    assert [c.text for c in generate(suspects, seed=5).canaries] == first


def test_canaries_never_collide_with_the_record_or_earlier_canaries(suspects, tmp_path):
    with pytest.raises(Rollback), transaction.atomic():
        would_be = [c.text for c in generate(suspects, seed=8).canaries]
        raise Rollback
    # The world's text already holds the first canary the seed would give (a probe
    # response quoting it) and earlier canaries hold the rest: none may be drawn again.
    ingest("probes", tmp_path, [probe_line(1, f"An old story: {would_be[0]}")])
    earlier = {c.text for c in generate(suspects, seed=8, count=3).canaries}
    assert would_be[0] not in earlier
    fresh = generate(suspects, seed=8, count=6).canaries
    assert not {c.text for c in fresh} & (earlier | {would_be[0]})
    recorded_words = set(canary_normalised(" ".join([would_be[0], *earlier])).split())
    for canary in fresh:
        coined = set(canary_normalised(canary.text).split()) - recorded_words
        assert coined, f"{canary.text!r} has no word new to the record"


def test_canary_rows_cannot_be_changed(suspects):
    generate(suspects, count=1)
    with pytest.raises(DatabaseError, match="canaries"), transaction.atomic():
        Canary.objects.update(text="something else")


def test_canary_generate_command_writes_the_plan_and_names_bad_arguments(
    suspects, tmp_path, capsys
):
    out = tmp_path / "plan.json"
    call_command(
        "canary_generate",
        "--count",
        "4",
        "--out",
        str(out),
        "--accounts",
        "acct_1,acct_3",
        "--json",
    )
    document = json.loads(capsys.readouterr().out)
    assert document["canaries"] == 4 and document["accounts"] == 2
    assert hashlib.sha256(out.read_bytes()).hexdigest() == document["plan_sha256"]
    assert {a for c in json.loads(out.read_bytes())["canaries"] for a in c["accounts"]} == {
        "acct_1",
        "acct_3",
    }
    with pytest.raises(CommandError, match="--accounts: no account acct_9"):
        call_command("canary_generate", "--count", "1", "--out", str(out), "--accounts", "acct_9")
    with pytest.raises(CommandError, match="--cluster C-9999: no such cluster"):
        call_command("canary_generate", "--count", "1", "--out", str(out), "--cluster", "C-9999")
    with pytest.raises(CommandError, match="--count: must be between 1"):
        call_command("canary_generate", "--count", "0", "--out", str(out), "--accounts", "acct_1")


# --- the serve log ----------------------------------------------------------------------


def test_serve_log_is_ingested_with_unknown_canaries_named_by_line(suspects, tmp_path):
    canaries = generate(suspects, count=2).canaries
    rows = [
        serve_line(canaries[0].canary_id, 1),
        serve_line("CN-0000000000", 2),
        serve_line(canaries[1].canary_id, 3, account="acct_new"),
        serve_line(canaries[0].canary_id, 1),  # the same serve twice
        {**serve_line(canaries[1].canary_id, 4), "served_at": "yesterday"},
    ]
    result = ingest("serves", tmp_path, rows)
    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, 2)
    assert [(e["line"], e["field"]) for e in result.errors] == [(2, "canary_id"), (5, "served_at")]
    assert "no canary CN-0000000000" in result.errors[0]["message"]
    serve = CanaryServe.objects.get(request_id="req_0003")
    assert serve.account.account_id == "acct_new" and serve.account.seen_only_in_usage
    check = record_check()
    assert check.ok, check.failures.items
    assert check.checked["canary_serves"] == 2


# --- matching ---------------------------------------------------------------------------


def mangled(text: str) -> str:
    """The canary as a rival might give it back: case, spacing and punctuation changed."""
    words = text.replace(",", "").replace(".", "").split()
    return "  ".join(w.upper() if i % 2 else w for i, w in enumerate(words)) + "!!"


def test_served_canaries_are_found_verbatim_and_mangled_and_tie_the_served_accounts(
    suspects, tmp_path, capsys
):
    canaries = generate(suspects, count=3).canaries
    first, second, unserved = canaries
    ingest(
        "serves",
        tmp_path,
        [serve_line(first.canary_id, 1, "acct_1"), serve_line(second.canary_id, 2, "acct_2")],
        name="serves.ndjson",
    )
    ingest(
        "probes",
        tmp_path,
        [
            probe_line(1, f"Here is a fact: {first.text} Anything else?"),
            probe_line(2, f"Sure!\n{mangled(second.text)}\nHope that helps."),
            probe_line(3, f"Trivia: {unserved.text}"),
            probe_line(4, "Guilds kept ledgers in chests.", target="other-vendor", control=True),
            # The canary's words, but not in its order: no match.
            probe_line(5, " ".join(reversed(first.text.split()))),
        ],
        name="probes.ndjson",
    )
    result = canaries_match(actor="system:test")
    assert result["canaries_served"] == 2 and result["exchanges"] == 5
    found = {(m["canary_id"], m["probe_id"]): m for m in result["matches"]}
    assert set(found) == {
        (first.canary_id, "p-rival-chat-1"),
        (second.canary_id, "p-rival-chat-2"),
    }
    assert found[(second.canary_id, "p-rival-chat-2")]["accounts"] == ["acct_2"]
    assert result["accounts_by_target"] == {"rival-chat": ["acct_1", "acct_2"]}
    for match in result["matches"]:
        assert 0 < match["chance"] < 1e-6
        assert match["new"]
    assert first.text in found[(first.canary_id, "p-rival-chat-1")]["quote"]
    assert CanaryMatch.objects.count() == 2
    entry = LedgerEntry.objects.filter(object_type="canary_matches").get()
    assert entry.details["recorded"] == 2
    # Running it again finds the same matches and records nothing twice.
    again = canaries_match(actor="system:test")
    assert len(again["matches"]) == 2 and again["recorded"] == 0
    assert not any(m["new"] for m in again["matches"])
    assert CanaryMatch.objects.count() == 2
    check = record_check()
    assert check.ok, check.failures.items
    assert check.checked["canary_matches"] == 2
    call_command("canary_match")
    text = capsys.readouterr().out
    assert f"{second.canary_id} in probe p-rival-chat-2 (rival-chat): served to acct_2" in text
    assert "Method: A probe response matches a canary when" in text


def test_a_cluster_plan_serves_its_members_and_names_the_cluster(suspects, tmp_path, capsys):
    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status="finished", actor="system:test"
    )
    cluster = Cluster.objects.create(
        run=run,
        identity="C-0042",
        score=90,
        band="critical",
        size=2,
        explanation="one card",
        created_at=now,
    )
    for account in suspects[1:]:
        ClusterMember.objects.create(cluster=cluster, account=account)
    out = tmp_path / "plan.json"
    call_command("canary_generate", "--count", "2", "--out", str(out), "--cluster", "C-0042")
    plan = json.loads(out.read_bytes())
    assert plan["cluster"] == "C-0042"
    assert sorted(a for c in plan["canaries"] for a in c["accounts"]) == ["acct_2", "acct_3"]
    assert "Canary set" in capsys.readouterr().out
