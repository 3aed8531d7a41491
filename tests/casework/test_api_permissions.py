"""Who may do what through the API: every role, with every kind of credential, on every
endpoint, including the objects of a case the user is not on.

The rules are the web UI's: the raw record for internal roles only, the Terms for everyone
signed in, a case and everything under it for its members only (404 for anyone else, as
if it did not exist), writes as the member's role allows (403). A token adds its scopes on
top: `read` for GET, `write` for POST, and an `ingest` token reads and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from casework.api_platform.tokens import TOKEN_PREFIX, api_token_issue, api_token_sha256
from casework.models import ApiToken, Case, CaseRole, ReportJob
from casework.services import (
    allegation_add,
    case_accounts_attribute,
    note_add,
)
from evidence.access import record_writer
from evidence.models import (
    Account,
    Clause,
    Cluster,
    ClusterMember,
    DetectionRun,
    Finding,
    IngestBatch,
    TermsDocument,
    TermsVersion,
    UsageEvent,
)
from tests.factories import case_with_members, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

# role name in this test -> (global role group, role on case A)
ROLES = {
    "superuser": (None, None),  # sees every case, is owner of each
    "admin": ("admin", None),  # the admin group alone opens no case
    "owner": ("counsel", CaseRole.OWNER),
    "counsel": ("counsel", CaseRole.COUNSEL),
    "investigator": ("investigator", CaseRole.INVESTIGATOR),
    "viewer": ("viewer", CaseRole.VIEWER),
    "external": ("external reviewer", CaseRole.EXTERNAL_REVIEWER),
    "nonmember": ("counsel", None),  # counsel on case B only
}
SCOPES = ("read", "write", "ingest", "session")
RECORD_READERS = {"superuser", "admin", "owner", "counsel", "investigator", "viewer", "nonmember"}
RECORD_WRITERS = RECORD_READERS - {"viewer"}
MEMBERS_OF_A = {"superuser", "owner", "counsel", "investigator", "viewer", "external"}
MEMBERS_OF_B = {"superuser", "nonmember"}
OPENERS = {"superuser", "admin", "owner", "counsel", "investigator", "nonmember"}
NOTE_ON_A = {"superuser", "owner", "counsel", "investigator"}
ALLEGE_ON_A = {"superuser", "owner", "counsel"}


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class World:
    """Two cases (A with a member of every role, B owned by `nonmember`) and a record."""

    def __init__(self, django_user_model) -> None:
        self.users = {}
        for name, (group, _) in ROLES.items():
            if name == "superuser":
                user = django_user_model.objects.create_superuser(
                    username=name, password="a-long-password-1"
                )
            else:
                user = user_with_role(name, group)
            self.users[name] = user
        now = timezone.now()
        batch = IngestBatch.objects.create(
            kind="usage",
            source="cli",
            format="native",
            file_name="usage.ndjson",
            raw_sha256=_sha("usage"),
            raw_size=1,
            collector_label="system:test",
            started_at=now,
            finished_at=now,
            status="committed",
        )
        self.batch = batch
        self.accounts = {
            a: Account.objects.create(account_id=a, email=f"{a}@example.test", batch=batch)
            for a in ("acct_a", "acct_b")
        }
        self.events = {
            a: UsageEvent.objects.create(
                request_id=f"req_{a}",
                ts=now,
                account_id=a,
                model="frontier-2",
                input_tokens=1,
                output_tokens=2,
                batch=batch,
                row_sha256=_sha(a),
            )
            for a in self.accounts
        }
        document = TermsDocument.objects.create(slug="services", title="Services Agreement")
        version = TermsVersion.objects.create(
            document=document,
            label="2025-06-01",
            effective_date=dt.date(2025, 6, 1),
            text="3.3 You may not extract Output.",
            text_sha256=_sha("3.3 You may not extract Output."),
        )
        self.clause = Clause.objects.create(
            version=version,
            path="3.3",
            text="You may not extract Output.",
            text_sha256=_sha("You may not extract Output."),
            position=1,
        )
        run = DetectionRun.objects.create(
            started_at=now, finished_at=now, status="finished", actor="system:test"
        )
        self.cluster = Cluster.objects.create(
            run=run, score=90, band="critical", size=2, explanation="one card", created_at=now
        )
        for account in self.accounts.values():
            ClusterMember.objects.create(cluster=self.cluster, account=account)
        self.finding = Finding.objects.create(
            run=run,
            detector="probability_harvesting",
            detector_version="1",
            account=self.accounts["acct_a"],
            window_start=now,
            window_end=now,
            value=0.9,
            threshold=0.5,
            fired=True,
            explanation="logprobs on every request",
            created_at=now,
        )

        owner, nonmember = self.users["owner"], self.users["nonmember"]
        self.a = case_with_members(
            owner=owner,
            reference="CASE-A",
            title="A",
            respondent="Foxglove",
            members=[
                (self.users[name], role)
                for name, (_, role) in ROLES.items()
                if role is not None and role != CaseRole.OWNER
            ],
        )
        self.b = case_with_members(
            owner=nonmember, reference="CASE-B", title="B", respondent="Other"
        )
        for case, actor, account in ((self.a, owner, "acct_a"), (self.b, nonmember, "acct_b")):
            case_accounts_attribute(
                actor=actor, case=case, accounts=[self.accounts[account]], basis="payment"
            )
            note_add(actor=actor, case=case, text=f"note on {case.reference}")
        self.allegation_a = allegation_add(
            actor=owner, case=self.a, clause=self.clause, theory="Outputs extracted."
        )
        self.allegation_b = allegation_add(
            actor=nonmember, case=self.b, clause=self.clause, theory="Outputs extracted."
        )

        def job(case, edition, actor):
            return ReportJob.objects.create(
                case=case, edition=edition, snapshot_sha256=_sha(edition), requested_by=actor
            )

        self.job_counsel = job(self.a, "counsel", owner)
        self.job_public = job(self.a, "public", owner)
        self.job_b = job(self.b, "counsel", nonmember)

    def client(self, role: str, scope: str) -> APIClient:
        client = APIClient()
        if scope == "session":
            client.force_login(self.users[role])
            return client
        user = self.users[role]
        if scope == "ingest" and not record_writer(user):
            # No such token is issued (see test_tokens); one issued before the user's role
            # changed still opens nothing.
            with pytest.raises(ValidationError, match="may not ingest"):
                api_token_issue(actor="system:test", user=user, name=scope, scopes=[scope], days=1)
            plaintext = TOKEN_PREFIX + f"stale-{role}"
            ApiToken.objects.create(
                user=user,
                name=scope,
                prefix=plaintext[: ApiToken.PREFIX_LENGTH],
                key_sha256=api_token_sha256(plaintext),
                scopes=[scope],
            )
        else:
            _, plaintext = api_token_issue(
                actor="system:test", user=user, name=scope, scopes=[scope], days=1
            )
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        return client


@pytest.fixture
def world(django_user_model, settings) -> World:
    # Eight users a test: a fast hasher keeps the matrix quick (passwords are not tested here).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return World(django_user_model)


def _if(condition: bool, yes: int, no: int) -> int:
    return yes if condition else no


def reads(w: World) -> list[tuple[str, str, object]]:
    """(name, path, expected status by role) for every GET endpoint."""

    def record(role):
        return _if(role in RECORD_READERS, 200, 404)

    def on_a(role):
        return _if(role in MEMBERS_OF_A, 200, 404)

    def on_b(role):
        return _if(role in MEMBERS_OF_B, 200, 404)

    def everyone(role):
        return 200

    a, b = "/api/v1/cases/CASE-A", "/api/v1/cases/CASE-B"
    return [
        ("accounts", "/api/v1/accounts/", everyone),
        ("account", "/api/v1/accounts/acct_a/", record),
        ("usage events", "/api/v1/usage-events/", everyone),
        ("usage event", f"/api/v1/usage-events/{w.events['acct_a'].pk}/", record),
        ("batches", "/api/v1/batches/", everyone),
        ("batch", f"/api/v1/batches/{w.batch.pk}/", record),
        ("clusters", "/api/v1/clusters/", everyone),
        ("cluster", f"/api/v1/clusters/{w.cluster.pk}/", record),
        ("findings", "/api/v1/findings/", everyone),
        ("finding", f"/api/v1/findings/{w.finding.pk}/", record),
        ("terms", "/api/v1/terms/", everyone),
        ("terms document", "/api/v1/terms/services/", everyone),
        ("terms version", "/api/v1/terms/services/versions/2025-06-01/", everyone),
        ("clauses", "/api/v1/clauses/", everyone),
        ("clause", f"/api/v1/clauses/{w.clause.pk}/", everyone),
        ("verification", "/api/v1/verification/", everyone),
        ("confirmed labels", "/api/v1/labels/", everyone),  # empty for non-readers
        ("account ledger", "/api/v1/ledger/account/acct_a/", record),
        ("batch ledger", f"/api/v1/ledger/ingest_batch/{w.batch.pk}/", record),
        ("cases", "/api/v1/cases/", everyone),
        ("case A", f"{a}/", on_a),
        ("case A accounts", f"{a}/accounts/", on_a),
        ("case A allegations", f"{a}/allegations/", on_a),
        ("case A allegation", f"{a}/allegations/{w.allegation_a.pk}/", on_a),
        # Notes are work product: a regulator's reviewer on the case may not read them.
        (
            "case A notes",
            f"{a}/notes/",
            lambda role: 403 if role == "external" else on_a(role),
        ),
        ("case A reports", f"{a}/reports/", on_a),
        ("case A public report", f"{a}/reports/{w.job_public.pk}/", on_a),
        (
            "case A counsel report",
            f"{a}/reports/{w.job_counsel.pk}/",
            lambda role: _if(role in MEMBERS_OF_A - {"external"}, 200, 404),
        ),
        ("case A exhibits", f"{a}/reports/{w.job_public.pk}/exhibits/", on_a),
        ("case A ledger", "/api/v1/ledger/case/CASE-A/", on_a),
        ("case B", f"{b}/", on_b),
        ("case B notes", f"{b}/notes/", on_b),
        ("case B allegation", f"{b}/allegations/{w.allegation_b.pk}/", on_b),
        ("case B report", f"{b}/reports/{w.job_b.pk}/", on_b),
        ("case B ledger", "/api/v1/ledger/case/CASE-B/", on_b),
        # B's objects under A's address: nobody reaches them that way, not even an admin.
        ("B's allegation under A", f"{a}/allegations/{w.allegation_b.pk}/", lambda role: 404),
        ("B's report under A", f"{a}/reports/{w.job_b.pk}/", lambda role: 404),
        # A report that is not built has no PDF yet: 409 for those who may see it.
        (
            "case A public report PDF",
            f"{a}/reports/{w.job_public.pk}/pdf/",
            lambda role: _if(role in MEMBERS_OF_A, 409, 404),
        ),
    ]


def writes(w: World) -> list[tuple[str, str, dict, object]]:
    """(name, path, body, expected status by role) for every POST endpoint."""
    a, b = "/api/v1/cases/CASE-A", "/api/v1/cases/CASE-B"

    def on_a(allowed: set[str], created: int = 201):
        return lambda role: created if role in allowed else 403 if role in MEMBERS_OF_A else 404

    return [
        (
            "open a case",
            "/api/v1/cases/",
            {"reference": "CASE-NEW", "title": "New", "respondent": "Someone"},
            lambda role: _if(role in OPENERS, 201, 403),
        ),
        ("note on A", f"{a}/notes/", {"text": "seen"}, on_a(NOTE_ON_A)),
        (
            "label an account",
            "/api/v1/labels/",
            {"account_id": "acct_a", "verdict": "confirmed_benign", "reason": "Checked."},
            lambda role: _if(role in RECORD_WRITERS, 201, 403),
        ),
        (
            "attribute on A",
            f"{a}/accounts/",
            {"accounts": ["acct_a"], "basis": "payment"},
            on_a(NOTE_ON_A),
        ),
        (
            "allege on A",
            f"{a}/allegations/",
            {"clause": w.clause.pk, "theory": "Outputs extracted."},
            on_a(ALLEGE_ON_A),
        ),
        ("report on A", f"{a}/reports/", {"edition": "public"}, on_a(ALLEGE_ON_A, 202)),
        (
            "note on B",
            f"{b}/notes/",
            {"text": "seen"},
            lambda role: _if(role in MEMBERS_OF_B, 201, 404),
        ),
    ]


def _with_scope(scope: str, method: str, status: int) -> int:
    """A token's scope is checked before anything else: no scope, no answer but 403."""
    needed = "read" if method == "GET" else "write"
    if scope == "session" or scope == needed:
        return status
    return 403


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("role", list(ROLES))
def test_each_endpoint_answers_each_role_and_scope_as_it_should(world, role, scope):
    client = world.client(role, scope)
    wrong = []
    answers = [("GET", name, path, None, expect) for name, path, expect in reads(world)]
    answers += [("POST", name, path, body, expect) for name, path, body, expect in writes(world)]
    for method, name, path, body, expect in answers:
        expected = _with_scope(scope, method, expect(role))
        post = method == "POST"
        response = client.post(path, body, format="json") if post else client.get(path)
        if response.status_code != expected:
            wrong.append(f"{method} {name} ({path}): {response.status_code}, expected {expected}")
        elif response.status_code >= 400:
            error = response.json()["error"]
            assert error["status"] == response.status_code and error["code"], (name, error)
    assert wrong == [], f"{role} with {scope}:\n" + "\n".join(wrong)


def _listed(client, path: str, key: str) -> set:
    response = client.get(path)
    assert response.status_code == 200, (path, response.content)
    return {item[key] for item in response.json()["results"]}


@pytest.mark.parametrize("role", list(ROLES))
def test_lists_never_show_what_the_user_cannot_open(world, role):
    client = world.client(role, "read")
    cases = {
        "superuser": {"CASE-A", "CASE-B"},
        "admin": set(),
        "nonmember": {"CASE-B"},
    }.get(role, {"CASE-A"})
    assert _listed(client, "/api/v1/cases/", "reference") == cases
    # What a user sees under a case they may open is that case's only.
    if "CASE-A" in cases:
        assert _listed(client, "/api/v1/cases/CASE-A/accounts/", "account") == {"acct_a"}
        if role != "external":
            assert _listed(client, "/api/v1/cases/CASE-A/notes/", "text") == {"note on CASE-A"}
        assert _listed(client, "/api/v1/cases/CASE-A/allegations/", "id") == {world.allegation_a.pk}
        editions = _listed(client, "/api/v1/cases/CASE-A/reports/", "edition")
        assert editions == ({"public"} if role == "external" else {"counsel", "public"})
        ledger = client.get("/api/v1/ledger/case/CASE-A/").json()["results"]
        assert all(
            e["object_id"] == "CASE-A" or e["details"].get("case") == "CASE-A" for e in ledger
        )
    # The raw record: internal roles see it whole, an external reviewer sees nothing of it.
    record = {"acct_a", "acct_b"} if role in RECORD_READERS else set()
    assert _listed(client, "/api/v1/accounts/", "account_id") == record
    assert _listed(client, "/api/v1/usage-events/", "account") == record
    assert bool(_listed(client, "/api/v1/batches/", "id")) == bool(record)
    assert bool(_listed(client, "/api/v1/clusters/", "id")) == bool(record)
    assert bool(_listed(client, "/api/v1/findings/", "id")) == bool(record)
    # The Terms are public contract text: everyone signed in reads them.
    assert _listed(client, "/api/v1/clauses/", "path") == {"3.3"}


def test_the_access_audit_is_the_owners(world):
    """Who viewed a case is its access audit: the owner (AUDIT) sees those entries in the
    case's ledger, other members see every other act."""
    world.client("viewer", "read").get("/api/v1/cases/CASE-A/")  # a recorded view

    def actions(role):
        entries = world.client(role, "read").get("/api/v1/ledger/case/CASE-A/").json()
        return {e["action"] for e in entries["results"]}

    assert "viewed" in actions("owner")
    assert "viewed" not in actions("counsel")
    assert {"created", "linked"} <= actions("counsel")


def test_without_credentials_every_endpoint_is_401(world):
    client = APIClient()
    paths = [path for _, path, _ in reads(world)] + [path for _, path, _, _ in writes(world)]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 401, path
        assert response["WWW-Authenticate"] == "Bearer"
    assert not Case.objects.filter(reference="CASE-NEW").exists()
