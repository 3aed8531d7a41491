"""One redaction policy per edition, over every file a report hands over (issue #18).

A case is built in all three editions and every file of each is scanned: the PDF's text
(pdftotext), every attachment, the document metadata (Info and XMP), the attachments'
descriptions, and the whole file with its streams decoded. No identifier of a kind the
edition's policy withholds may appear in any of them; the counsel edition, which withholds
nothing, carries them all (so the scan can find what it looks for). Pseudonyms are keyed
per case and edition: the same account has unrelated pseudonyms in two editions, and a
rebuild of the same snapshot gives the same ones.

The record's ids are opaque, as the provider's are (a request id does not spell out its
account id), so each value is looked for as it is, anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path

import pikepdf
import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, transaction
from django.utils import timezone

from casework.models import Allegation, PseudonymKey, ReportJob
from casework.production import production_build
from casework.reports import report_build, report_job_request
from casework.reports.pipeline import Stages, report_prepare
from casework.reports.pseudonyms import pseudonym_key
from casework.reports.redaction import (
    EDITIONS,
    Kind,
    Redactor,
    Rule,
    pseudonym,
    withheld,
)
from casework.reports.snapshot import case_snapshot
from evidence.custody.canonical import sha256_hex
from evidence.custody.verification import evidence_verify
from evidence.ingest.service import ingest_file
from evidence.models import Account, Clause, LedgerEntry
from evidence.services import evidence_item_store
from tests.casework.test_reports import TERMS, _catalogue, _everything, _text
from tests.factories import case_with_members, ndjson_file, terms_version, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
# account id: (organisation, email, signup IP, card fingerprint)
ACCOUNTS = {
    "acct_q7h2k9": ("Larkspur Analytics Pte", "ops@larkspur-ai.example", "203.0.113.7",
                    "pf_71c0de55aa"),
    "acct_m3x8v1": ("Quillon Data Services", "kim@quillon.example", "198.51.100.23",
                    "pf_71c0de55aa"),
    "acct_z5r4t6": ("Obsidian Ridge Labs", "ml@obsidianridge.example", "192.0.2.41",
                    "pf_9e2b4d8c10"),
}  # fmt: skip
ROUTER, ACTOR = "acct_q7h2k9", "acct_z5r4t6"
# The end users a reseller sends are often its own customers' organisation names.
END_USERS = ("Globex Retail GmbH", "Initech Tutoring", "enduser-88412")
STAFF_OWNER, STAFF_INVESTIGATOR = "m.okafor", "r.lindqvist"


def _opaque(prefix: str, *parts) -> str:
    return prefix + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _usage(n: int, account: str, ip: str) -> dict:
    return {
        "request_id": _opaque("req_", account, n),
        "ts": (T0 + dt.timedelta(hours=n * 7 % 720, minutes=n % 60)).isoformat(),
        "account_id": account,
        "api_key_id": _opaque("key_", account),
        "model": "frontier-2",
        "input_tokens": 400 + n,
        "output_tokens": 900 + 3 * n,
        "source_ip": ip,
        "end_user": END_USERS[n % 3] if account == ROUTER and n % 2 else "",
        "params": {"logprobs": True, "top_logprobs": 20},
        "prompt": f"CONFIDENTIALPROMPT step by step, problem {n}",
        "status": 200,
    }


@pytest.fixture
def case(tmp_path, signing):
    owner = user_with_role(STAFF_OWNER, "counsel")
    investigator = user_with_role(STAFF_INVESTIGATOR, "investigator")
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [
                {"account_id": a, "org_name": org, "email": email, "country": "SG",
                 "payment_fingerprint": fp, "signup_ip": ip, "plan": "tier-2",
                 "reseller": a == ROUTER, "created_at": "2025-12-01T08:00:00Z"}
                for a, (org, email, ip, fp) in ACCOUNTS.items()
            ],
        ),
    )  # fmt: skip
    ingest_file(
        actor="system:test",
        kind="usage",
        path=ndjson_file(
            tmp_path / "usage.ndjson",
            [_usage(n, a, ip) for a, (_, _, ip, _) in ACCOUNTS.items() for n in range(30)],
        ),
    )
    ingest_file(
        actor="system:test",
        kind="assent",
        path=ndjson_file(
            tmp_path / "assent.ndjson",
            [
                {"account_id": a, "terms": "sa", "version": "2025-06-01",
                 "ts": "2025-12-01T08:01:10Z", "ip": ACCOUNTS[a][2], "method": "clickwrap"}
                for a in ACCOUNTS
            ],
        ),
    )  # fmt: skip
    terms_version(tmp_path, TERMS, label="2025-06-01", effective=dt.date(2025, 6, 1), document="sa")
    _catalogue(tmp_path)
    Group.objects.get_or_create(name="counsel")[0].user_set.add(owner)
    the_case = case_with_members(
        owner=owner,
        reference="PX-2026-RED",
        title="Larkspur routing network",
        respondent="Respondent Holdings Ltd",
        members=[(investigator, "investigator")],
        accounts=Account.objects.filter(account_id__in=ACCOUNTS),
        detail="two accounts on one card",
    )
    allegation = Allegation.objects.create(
        case=the_case,
        clause=Clause.objects.get(path="3.3(a)"),
        theory=f"Per {STAFF_INVESTIGATOR}'s review, {ROUTER} routed {ACTOR}'s harvesting.",
        created_by=owner,
    )
    screenshot = evidence_item_store(
        actor=investigator,
        stream=io.BytesIO(b"\x89PNG signup screenshot"),
        file_name="signup-flow.png",
        kind="screenshot",
        source="investigator",
    )
    allegation.supporting_evidence.add(screenshot)
    _detected()
    assert evidence_verify(actor="system:test").ok
    return the_case


def _detected() -> None:
    """A detection run as the detectors store it: findings whose explanations name the
    account, its email and address, and the reseller link whose evidence lists the end
    users routed (the fields that stayed raw in the regulator's links exhibit)."""
    from evidence.models import DetectionRun, Finding, Link

    now = timezone.now()
    window = (T0, T0 + dt.timedelta(days=30))
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status="finished", actor="system:test",
        window_start=window[0], window_end=window[1],
        detector_versions={"probability_harvesting": "1", "proxy_routing": "1"},
        counts={"accounts_active": 3}, digest="cd" * 32,
    )  # fmt: skip
    accounts = {a.account_id: a for a in Account.objects.filter(account_id__in=ACCOUNTS)}
    for account_id, (_, email, ip, _) in ACCOUNTS.items():
        Finding.objects.create(
            run=run, detector="probability_harvesting", detector_version="1",
            account=accounts[account_id], window_start=window[0], window_end=window[1],
            value=0.95, threshold=0.25, fired=True,
            baseline={"cohort": "tier-2", "cohort_size": 50, "median": 0.01,
                      "multiple_of_median": 95.0, "percentile": 99.9},
            explanation=f"{account_id} ({email}, from {ip}) asked for 20 alternatives per "
            "token in 95% of its requests.",
            sample_request_ids=[_opaque("req_", account_id, 1)],
            created_at=now,
        )  # fmt: skip
    a, b = sorted((accounts[ROUTER], accounts[ACTOR]), key=lambda x: x.pk)
    Link.objects.create(
        run=run, account_a=a, account_b=b, kind="proxy_routing", detector_version="1",
        strength="strong",
        evidence={"router": ROUTER, "routed_end_users": list(END_USERS),
                  "api_key_id": _opaque("key_", ROUTER),
                  "declared_organisation": ACCOUNTS[ROUTER][0],
                  "requests": {ROUTER: 30, ACTOR: 30}},
        explanation=f"Account {ROUTER} carried requests for {len(END_USERS)} end users "
        f"({', '.join(END_USERS)}) whose prompts use the same scaffolds as account {ACTOR}.",
        sample_request_ids=[_opaque("req_", ROUTER, 3)],
        created_at=now,
    )  # fmt: skip


def identifiers() -> dict[Kind, list[str]]:
    """Every identifier of the case, by kind, as the record holds it."""
    values: dict[Kind, list[str]] = {kind: [] for kind in Kind}
    for account_id, (org, email, ip, fingerprint) in ACCOUNTS.items():
        values[Kind.ACCOUNT].append(account_id)
        values[Kind.ORGANISATION].append(org)
        values[Kind.EMAIL].append(email)
        values[Kind.IP].append(ip)
        values[Kind.FINGERPRINT].append(fingerprint)
        values[Kind.API_KEY].append(_opaque("key_", account_id))
        values[Kind.REQUEST] += [_opaque("req_", account_id, n) for n in (1, 3)]
    values[Kind.END_USER] += list(END_USERS)
    values[Kind.STAFF] += [STAFF_OWNER, STAFF_INVESTIGATOR]
    values[Kind.PROMPT].append("CONFIDENTIALPROMPT")
    return values


class Files:
    """Everything one edition's PDF carries, as text a reader of it could find."""

    def __init__(self, path: Path, tmp_path: Path) -> None:
        self.text = _text(path)
        with pikepdf.open(path) as pdf, pdf.open_metadata() as xmp:
            self.metadata = str(xmp) + "".join(str(v) for v in pdf.docinfo.values())
            self.attachments = {
                name: spec.get_file().read_bytes().decode("utf-8")
                for name, spec in pdf.attachments.items()
            }
            self.descriptions = "".join(
                str(spec.description or "") for spec in pdf.attachments.values()
            )
        self.raw = _everything(path, tmp_path)

    def places(self) -> dict[str, str]:
        return {
            "text": self.text,
            "metadata": self.metadata,
            "attachment descriptions": self.descriptions,
            **{f"attachment {name}": data for name, data in self.attachments.items()},
            "decoded file": self.raw,
        }

    def holds(self, value: str) -> list[str]:
        return [where for where, data in self.places().items() if value in data]


def _build_all(case, actor) -> dict[str, ReportJob]:
    jobs = {}
    for edition in EDITIONS:
        job = report_build(job=report_job_request(actor=actor, case=case, edition=edition))
        assert job.status == ReportJob.Status.DONE, job.failure_reason
        jobs[edition] = job
    return jobs


def _files_all(case, tmp_path) -> dict[str, Files]:
    """Every edition of the case built, and its files read as a reader could."""
    files = {}
    for edition, job in _build_all(case, case.opened_by).items():
        path = tmp_path / f"{edition}.pdf"
        path.write_bytes(job.pdf.file.read())
        files[edition] = Files(path, tmp_path)
    return files


def _rows(data: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data, newline="")))


def test_every_file_of_every_edition_is_free_of_what_its_policy_withholds(case, tmp_path):
    files = _files_all(case, tmp_path)
    values = identifiers()

    # Counsel withholds nothing: every identifier the scans look for is there to be found.
    assert not withheld("counsel")
    for kind, listed in values.items():
        for value in listed:
            assert files["counsel"].holds(value), (kind, value)

    for edition in ("regulator", "public"):
        for kind in withheld(edition):
            for value in values[kind]:
                found = files[edition].holds(value)
                assert not found, f"{edition}: {kind.value} {value!r} in {', '.join(found)}"

    # What the regulator's policy keeps is kept (organisations, request ids, staff), and
    # what it reduces is there reduced.
    regulator = files["regulator"]
    assert Kind.ORGANISATION not in withheld("regulator")
    assert regulator.holds("Globex") == []  # an end user, not an account's organisation
    assert "Larkspur Analytics Pte" in regulator.attachments["accounts.csv"]
    assert _opaque("req_", ROUTER, 1) in regulator.attachments["usage.csv"]
    assert "203.0.113.0/24" in regulator.text and "@larkspur-ai.example" in regulator.text

    # The public edition names staff by their role, never by username.
    public = files["public"]
    assert re.search(r"\bcounsel\b", public.text) and re.search(r"\binvestigator\b", public.text)
    assert STAFF_OWNER in files["counsel"].text and STAFF_INVESTIGATOR in files["regulator"].text


def test_a_production_of_each_edition_is_free_of_what_its_policy_withholds(case, tmp_path):
    """The production (filing copy, natives, load file, manifest) comes from the same
    preparation as the report, so the same policy covers every file of it."""
    values = identifiers()
    for edition in EDITIONS:
        folder = tmp_path / f"production-{edition}"
        production_build(actor=case.opened_by, case=case, out_dir=folder, edition=edition)
        contents = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = str(path.relative_to(folder))
            if path.suffix == ".pdf":
                contents[f"{name} (text)"] = _text(path)
                contents[f"{name} (decoded)"] = _everything(path, tmp_path)
            else:
                contents[name] = path.read_bytes().decode("utf-8", errors="replace")
        assert any(name.startswith("natives/") for name in contents), sorted(contents)
        everything = "".join(contents.values())
        if edition == "counsel":  # the scan finds what it looks for
            assert all(v in everything for v in values[Kind.ACCOUNT] + values[Kind.END_USER])
        for kind in withheld(edition):
            for value in values[kind]:
                found = [name for name, data in contents.items() if value in data]
                assert not found, f"{edition}: {kind.value} {value!r} in {', '.join(found)}"


def test_pseudonyms_differ_across_editions_and_match_their_key(case, tmp_path):
    jobs = _build_all(case, case.opened_by)
    keys = {k.edition: bytes(k.secret) for k in PseudonymKey.objects.filter(case=case)}
    assert set(keys) == {"regulator", "public"}  # counsel pseudonymises nothing
    assert keys["regulator"] != keys["public"]
    texts, attachments = {}, {}
    for edition, job in jobs.items():
        path = tmp_path / f"{edition}.pdf"
        path.write_bytes(job.pdf.file.read())
        texts[edition] = _text(path)
        with pikepdf.open(path) as pdf:
            attachments[edition] = {
                n: s.get_file().read_bytes().decode() for n, s in pdf.attachments.items()
            }
    for account_id in ACCOUNTS:
        regulator = pseudonym(keys["regulator"], Kind.ACCOUNT, account_id)
        public = pseudonym(keys["public"], Kind.ACCOUNT, account_id)
        assert regulator != public
        # Each edition names the account by its own pseudonym and never by the other's.
        assert regulator in attachments["regulator"]["accounts.csv"]
        assert public in texts["public"]
        assert public not in texts["regulator"] + "".join(attachments["regulator"].values())
        assert regulator not in texts["public"] + "".join(attachments["public"].values())
    # PostgreSQL keys the usage rows exactly as Python does.
    usage = _rows(attachments["regulator"]["usage.csv"])
    routed = {r["end_user_pseudonym"] for r in usage if r["end_user_pseudonym"]}
    assert routed == {pseudonym(keys["regulator"], Kind.END_USER, u) for u in END_USERS}
    assert {r["account_pseudonym"] for r in usage} == {
        pseudonym(keys["regulator"], Kind.ACCOUNT, a) for a in ACCOUNTS
    }
    assert {r["api_key_pseudonym"] for r in usage} == {
        pseudonym(keys["regulator"], Kind.API_KEY, _opaque("key_", a)) for a in ACCOUNTS
    }
    # The links exhibit names the end users as the usage exhibit does.
    links = attachments["regulator"]["links.csv"]
    for user in END_USERS:
        assert pseudonym(keys["regulator"], Kind.END_USER, user) in links
    # No file carries a key.
    for edition in EDITIONS:
        everything = texts[edition] + "".join(attachments[edition].values())
        for secret in keys.values():
            assert secret.hex() not in everything


def test_the_same_snapshot_rebuilt_gives_the_same_pseudonyms(case, tmp_path):
    snapshot = case_snapshot(case=case)
    built = []
    for attempt in (1, 2):
        folder = tmp_path / f"build-{attempt}"
        folder.mkdir()
        prepared = report_prepare(
            actor=case.opened_by, case=case, snapshot=snapshot, edition="regulator",
            job_id=None, workdir=folder, stages=Stages(None), generated_at=timezone.now(),
            page_size="A4", deflate=False,
        )  # fmt: skip
        built.append({e.file_name: e.sha256 for e in prepared.exhibits})
    assert built[0] == built[1]
    assert {"accounts.csv", "usage.csv", "links.csv"} <= set(built[0])
    assert PseudonymKey.objects.filter(case=case).count() == 1


def test_a_key_is_drawn_once_ledgered_by_its_hash_and_never_changed(case):
    first = pseudonym_key(actor=case.opened_by, case=case, edition="public")
    again = pseudonym_key(actor="system:test", case=case, edition="public")
    assert first == again and len(first) == 32
    assert pseudonym_key(actor=case.opened_by, case=case, edition="counsel") is None
    entries = LedgerEntry.objects.filter(object_type="pseudonym_key")
    assert entries.count() == 1
    entry = entries.get()
    assert entry.actor == STAFF_OWNER
    assert entry.object_sha256 == sha256_hex(first)
    assert entry.details == {"case": case.reference, "edition": "public"}
    assert first.hex() not in json.dumps(entry.details)
    key = PseudonymKey.objects.get(case=case, edition="public")
    for change in (
        lambda: PseudonymKey.objects.filter(pk=key.pk).update(secret=b"\0" * 32),
        lambda: PseudonymKey.objects.filter(pk=key.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
    assert bytes(PseudonymKey.objects.get(pk=key.pk).secret) == first


def test_the_policies():
    assert withheld("counsel") == frozenset()
    assert withheld("public") == frozenset(Kind)
    assert Kind.ORGANISATION not in withheld("regulator")
    assert Kind.ACCOUNT in withheld("regulator") and Kind.END_USER in withheld("regulator")
    secret = b"k" * 32
    regulator = Redactor("regulator", secret=secret)
    assert regulator.account("acct_1") == pseudonym(secret, Kind.ACCOUNT, "acct_1")
    # The kind is part of the message: one string as two kinds gives two pseudonyms.
    assert pseudonym(secret, Kind.ACCOUNT, "x1") != pseudonym(secret, Kind.END_USER, "x1")
    assert pseudonym(secret, Kind.ACCOUNT, "x1") != pseudonym(b"j" * 32, Kind.ACCOUNT, "x1")
    public = Redactor("public", secret=secret, staff={"m.okafor": "counsel"})
    assert public.rule(Kind.STAFF) == Rule.ROLE
    assert public.staff_member("m.okafor") == "counsel"
    assert public.staff_member("system:cli") == "system:cli"
    assert public.staff_member("someone.else") == "staff"
    assert public.text("Reviewed by m.okafor; m.okafor.bak kept") == (
        "Reviewed by counsel; m.okafor.bak kept"
    )
    assert public.identifier(Kind.END_USER, "Globex") == ""
    evidence = public.structure(
        {"routed_end_users": ["Globex"], "shared_ips": ["203.0.113.7"]}, field_name="e"
    )
    assert evidence == {"routed_end_users": [""], "shared_ips": [""]}
    assert Redactor("counsel").text("acct_1 at 203.0.113.7") == "acct_1 at 203.0.113.7"
    # A blocked range narrower than the network names hosts: widened, or left out.
    assert regulator.address_range("203.0.113.7/32") == "203.0.113.0/24"
    assert regulator.address_range("198.51.0.0/16") == "198.51.0.0/16"
    assert regulator.address_range("2001:db8:1:2::/64") == "2001:db8:1::/48"
    assert public.address_range("203.0.113.7/32") == ""
    assert Redactor("counsel").address_range("203.0.113.7/32") == "203.0.113.7/32"


# Another customer, in no case: its measurements are the baseline population.
OTHER = ("acct_w8n3p2", "Wrenfield Systems", "dana@wrenfield.example", "192.0.2.200")


def test_the_baseline_and_natives_follow_each_editions_policy(case, tmp_path):
    """Issue #18 item 2: the new exhibits (the natives the batch hashes cover, the baseline
    population of other customers) go through the same policy as the rest."""
    from evidence.detectors.service import detection_run

    other_id, org, email, ip = OTHER
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "other-accounts.ndjson",
            [{"account_id": other_id, "org_name": org, "email": email, "signup_ip": ip,
              "plan": "tier-2"}],
        ),
    )  # fmt: skip
    ingest_file(
        actor="system:test",
        kind="usage",
        path=ndjson_file(
            tmp_path / "other-usage.ndjson", [_usage(n, other_id, ip) for n in range(30)]
        ),
    )
    detection_run(actor="system:test")
    files = _files_all(case, tmp_path)
    values = identifiers()
    values[Kind.ACCOUNT].append(other_id)
    values[Kind.EMAIL].append(email)
    values[Kind.IP].append(ip)

    counsel = files["counsel"].attachments
    assert other_id in counsel["baseline.csv"]
    natives = [name for name in counsel if name.startswith("native-")]
    assert natives and any(ROUTER in counsel[name] for name in natives)
    for edition in ("regulator", "public"):
        attachments = files[edition].attachments
        assert not [name for name in attachments if name.startswith("native-")], edition
        assert "withheld in this edition" in attachments["natives.csv"]
        baseline = _rows(attachments["baseline.csv"])
        assert baseline
        if edition == "regulator":
            assert all(r["account_pseudonym"].startswith("PA-") for r in baseline)
        else:  # the public record: the values, and no account column at all
            assert not {"account_id", "account_pseudonym"} & set(baseline[0])
        for kind in withheld(edition):
            for value in values[kind]:
                found = files[edition].holds(value)
                assert not found, f"{edition}: {kind.value} {value!r} in {', '.join(found)}"
    regulator = _rows(files["regulator"].attachments["baseline.csv"])
    public = _rows(files["public"].attachments["baseline.csv"])
    key = bytes(PseudonymKey.objects.get(case=case, edition="regulator").secret)
    assert {r["account_pseudonym"] for r in regulator} == {pseudonym(key, Kind.ACCOUNT, other_id)}
    assert sorted(r["value"] for r in regulator) == sorted(r["value"] for r in public)
