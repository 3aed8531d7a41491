"""The REST API as a client's pipeline uses it: open a case with a write token, attribute
accounts, allege a breach of a clause, note, page through usage, request and fetch a report;
and its OpenAPI schema, which must validate and declare every answer a view can give."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import yaml
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from casework.models import Allegation, CaseAccount, CaseNote, ReportJob
from evidence.ingest.service import ingest_file
from evidence.models import Clause, IngestBatch, LedgerEntry
from tests.factories import ndjson_file, terms_version, token_client, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
ACCOUNTS = ("acct_fox01", "acct_fox02", "acct_bystander")
TERMS = (
    "# Services Agreement\n\n## 3. Use\n\n3.3 You may not: (a) use Output to develop models "
    "that compete with us; (b) use automated means to extract Output; or (c) open multiple "
    "Accounts to evade rate limits.\n"
)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


@pytest.fixture
def record(tmp_path):
    """Three accounts, 30 usage events over two models and three days, one Terms version."""
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [{"account_id": a, "email": f"{a}@example.test", "plan": "tier-2"} for a in ACCOUNTS],
        ),
    )
    ingest_file(
        actor="system:test",
        kind="usage",
        path=ndjson_file(
            tmp_path / "usage.ndjson",
            [
                {
                    "request_id": f"req_{n:04d}",
                    "ts": (T0 + dt.timedelta(hours=2 * n)).isoformat(),
                    "account_id": ACCOUNTS[n % 2],
                    "model": "frontier-2" if n % 3 else "frontier-3",
                    "input_tokens": 100 + n,
                    "output_tokens": 200 + n,
                }
                for n in range(30)
            ],
        ),
    )
    terms_version(tmp_path, TERMS, label="2025-06-01")
    return tmp_path


def assert_error(response, status: int, *, field: str | None = None) -> dict:
    """The one error shape; `field` must be named in `error.fields` when given."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) <= {"status", "code", "message", "fields"}
    assert error["status"] == status and error["code"] and error["message"]
    if field is not None:
        assert field in error.get("fields", {}), error
    return error


@pytest.fixture
def counsel():
    return user_with_role("carla", "counsel")


@pytest.fixture
def writer(counsel):
    return token_client(counsel, "read", "write")


def open_case(client, reference="PACTA-2026-001", **extra):
    body = {"reference": reference, "title": "Foxglove", "respondent": "Foxglove Labs", **extra}
    return client.post("/api/v1/cases/", body, format="json")


# --- cases with a token ----------------------------------------------------------------------


def test_a_write_token_opens_a_case_and_builds_it(record, counsel, writer):
    response = open_case(writer, window_start="2026-01-01T00:00:00Z")
    assert response.status_code == 201, response.content
    assert response["Location"] == "/api/v1/cases/PACTA-2026-001/"
    case = response.json()
    assert (case["reference"], case["role"], case["opened_by"]) == (
        "PACTA-2026-001",
        "owner",
        "carla",
    )
    assert case["window_start"] == "2026-01-01T00:00:00Z"
    assert writer.get(response["Location"]).json()["title"] == "Foxglove"

    base = "/api/v1/cases/PACTA-2026-001"
    attributed = writer.post(
        f"{base}/accounts/",
        {"accounts": ["acct_fox01", "acct_fox02"], "basis": "payment", "detail": "one card"},
        format="json",
    )
    assert attributed.status_code == 201, attributed.content
    assert attributed.json() == {"added": 2, "basis_added": 0, "unchanged": 0, "attributed": 2}
    again = writer.post(
        f"{base}/accounts/",
        {"accounts": ["acct_fox01"], "basis": "payment", "detail": "one card"},
        format="json",
    )
    assert again.json() == {"added": 0, "basis_added": 0, "unchanged": 1, "attributed": 2}
    # A second basis for an account already attributed is recorded beside the first.
    second = writer.post(
        f"{base}/accounts/", {"accounts": ["acct_fox01"], "basis": "admission"}, format="json"
    )
    assert second.json() == {"added": 0, "basis_added": 1, "unchanged": 0, "attributed": 2}
    listed = writer.get(f"{base}/accounts/").json()
    assert [a["account"] for a in listed["results"]] == ["acct_fox01", "acct_fox02"]
    assert listed["results"][0]["basis"] == "payment"
    further = listed["results"][0]["further_bases"]
    assert [(b["basis"], b["attributed_by"]) for b in further] == [("admission", "carla")]
    assert listed["results"][1]["further_bases"] == []

    clause = Clause.objects.get(path="3.3(a)")
    alleged = writer.post(
        f"{base}/allegations/",
        {"clause": clause.pk, "theory": "Outputs harvested to train a competing model."},
        format="json",
    )
    assert alleged.status_code == 201, alleged.content
    allegation = alleged.json()
    assert (allegation["document"], allegation["version"], allegation["path"]) == (
        "services-agreement",
        "2025-06-01",
        "3.3(a)",
    )
    assert allegation["clause_sha256"] == clause.text_sha256
    detail = writer.get(f"{base}/allegations/{allegation['id']}/")
    assert detail.json()["theory"] == "Outputs harvested to train a competing model."

    noted = writer.post(
        f"{base}/notes/", {"text": "  Card shared with acct_fox03?  "}, format="json"
    )
    assert noted.status_code == 201, noted.content
    assert noted.json()["text"] == "Card shared with acct_fox03?"
    assert [n["author"] for n in writer.get(f"{base}/notes/").json()["results"]] == ["carla"]

    assert CaseAccount.objects.count() == 2
    assert Allegation.objects.count() == 1
    assert CaseNote.objects.count() == 1
    # Every act is in the case's ledger, with the token's user as the actor.
    entries = writer.get("/api/v1/ledger/case/PACTA-2026-001/").json()["results"]
    actions = [(e["action"], e["object_type"]) for e in entries]
    assert ("created", "case") in actions
    assert actions.count(("linked", "account")) == 2
    assert {e["actor"] for e in entries} == {"carla"}
    # Reading the case through the API is recorded like opening its page; its owner sees it.
    assert ("viewed", "case") in actions


def test_case_writes_name_the_field_that_is_wrong(record, writer):
    assert open_case(writer).status_code == 201
    assert_error(open_case(writer), 409)  # the reference is taken
    assert_error(open_case(writer, reference="a b"), 400, field="reference")
    window = {"window_start": "2026-02-01T00:00:00Z", "window_end": "2026-01-01T00:00:00Z"}
    assert_error(open_case(writer, reference="PACTA-2", **window), 400, field="window_end")
    assert_error(
        open_case(writer, reference="PACTA-3", window_start="2026-02-01"), 400, field="window_start"
    )
    assert_error(open_case(writer, reference="PACTA-4", privileged="yes"), 400, field="privileged")

    base = "/api/v1/cases/PACTA-2026-001"
    unknown = writer.post(
        f"{base}/accounts/", {"accounts": ["acct_nobody"], "basis": "payment"}, format="json"
    )
    assert "acct_nobody" in assert_error(unknown, 400, field="accounts")["message"]
    bad_basis = writer.post(
        f"{base}/accounts/", {"accounts": ["acct_fox01"], "basis": "hunch"}, format="json"
    )
    assert_error(bad_basis, 400, field="basis")
    no_clause = writer.post(
        f"{base}/allegations/", {"clause": 999_999, "theory": "x"}, format="json"
    )
    assert_error(no_clause, 400, field="clause")
    clause = Clause.objects.first()
    as_text = writer.post(
        f"{base}/allegations/", {"clause": str(clause.pk), "theory": "x"}, format="json"
    )
    assert_error(as_text, 400, field="clause")  # a number, not a string of digits
    assert_error(writer.post(f"{base}/notes/", {"text": 5}, format="json"), 400, field="text")
    assert_error(writer.post(f"{base}/notes/", {"text": "   "}, format="json"), 400, field="text")
    assert_error(
        writer.post(f"{base}/notes/", {"text": "a\x00b"}, format="json"), 400, field="text"
    )
    form = writer.post(f"{base}/notes/", {"text": "as a form"})  # multipart: JSON only
    assert_error(form, 415)
    assert not CaseNote.objects.exists()


def test_an_allegation_names_a_clause_in_force_during_the_case(record, writer, tmp_path):
    """A Terms version that took effect after the case window governed none of its
    conduct: alleging one of its clauses is a 400 naming `clause`, through the API as
    through the case page; a clause of the version in force in the window is accepted."""
    terms_version(tmp_path, TERMS, label="2026-06-01")
    open_case(writer, window_start="2026-01-01T00:00:00Z", window_end="2026-02-01T00:00:00Z")
    base = "/api/v1/cases/PACTA-2026-001"
    in_force = Clause.objects.get(version__label="2025-06-01", path="3.3(a)")
    not_yet = Clause.objects.get(version__label="2026-06-01", path="3.3(a)")
    body = {"theory": "Harvested outputs to train a rival model."}
    refused = writer.post(f"{base}/allegations/", {**body, "clause": not_yet.pk}, format="json")
    error = assert_error(refused, 400, field="clause")
    assert "2026-06-01" in error["message"] and "not in force" in error["message"]
    accepted = writer.post(f"{base}/allegations/", {**body, "clause": in_force.pk}, format="json")
    assert accepted.status_code == 201, accepted.content
    assert Allegation.objects.filter(clause=not_yet).count() == 0


def test_a_read_token_reads_and_may_not_write(record, counsel, writer):
    open_case(writer)
    reader = token_client(counsel, "read")
    assert reader.get("/api/v1/cases/PACTA-2026-001/").status_code == 200
    error = assert_error(open_case(reader, reference="PACTA-9"), 403)
    assert error["code"] == "missing_scope" and "'write'" in error["message"]
    # A write token is not a read token: each method asks for its own scope.
    write_only = token_client(counsel, "write")
    assert assert_error(write_only.get("/api/v1/cases/"), 403)["code"] == "missing_scope"


def test_other_paths_under_the_api_are_json_404s(writer):
    for path in ("/api/v1/nothing/", "/api/v1/batches/abc/", "/api/v1/cases/x/y/z/"):
        assert_error(writer.get(path), 404)


def test_a_post_to_no_endpoint_is_a_json_404_not_a_csrf_page(counsel):
    # A write to a path no endpoint serves (a report id that is not a number) must answer in
    # the API's error shape, even from a browser session whose cookie invites a CSRF check.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(counsel)
    for path in ("/api/v1/cases/x/reports/null,null/final/", "/api/v1/nothing/"):
        response = browser.post(path, {"decision": "approve"}, content_type="application/json")
        assert response["Content-Type"] == "application/json"
        assert_error(response, 404)


# --- usage events: cursor pages and filters ------------------------------------------------


def _pages(client, url: str, **params) -> list[list[dict]]:
    pages = []
    response = client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        pages.append(body["results"])
        if body["next"] is None:
            return pages
        response = client.get(body["next"])


def test_usage_events_page_by_cursor_in_time_order(record, writer):
    pages = _pages(writer, "/api/v1/usage-events/", page_size=7)
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    events = [event for page in pages for event in page]
    assert [e["request_id"] for e in events] == [f"req_{n:04d}" for n in range(30)]
    first = events[0]
    assert (first["account"], first["model"], first["input_tokens"]) == (
        "acct_fox01",
        "frontier-3",
        100,
    )
    assert len(first["row_sha256"]) == 64
    assert first["batch"] == IngestBatch.objects.get(kind="usage").pk


def test_usage_events_filter_by_account_model_and_window(record, writer):
    def request_ids(**params):
        pages = _pages(writer, "/api/v1/usage-events/", page_size=4, **params)
        return [e["request_id"] for page in pages for e in page]

    assert request_ids(account="acct_fox02") == [f"req_{n:04d}" for n in range(1, 30, 2)]
    assert request_ids(model="frontier-3") == [f"req_{n:04d}" for n in range(0, 30, 3)]
    window = {"since": "2026-01-05T04:00:00Z", "until": "2026-01-05T10:00:00+00:00"}
    assert request_ids(**window) == ["req_0002", "req_0003", "req_0004"]  # [since, until)
    assert request_ids(account="acct_fox01", model="frontier-2", **window) == [
        "req_0002",
        "req_0004",
    ]
    # Unknown values are simply nothing; a window that ends before it starts is empty.
    assert request_ids(model="no-such-model") == []
    assert request_ids(account="acct_nobody") == []
    assert request_ids(since="2026-01-06T00:00:00Z", until="2026-01-05T00:00:00Z") == []
    # Extreme but valid bounds are the ends of time, not an error.
    assert len(request_ids(since="0001-01-01T00:00:00+14:00")) == 30


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"since": "yesterday"}, "since", 400),
        ({"since": "2026-01-05"}, "since", 400),  # a date, not a date-time
        ({"until": "2026-01-05T10:00:00"}, "until", 400),  # no UTC offset
        ({"until": ""}, "until", 400),
        ({"page_size": "0"}, "page_size", 400),
        ({"page_size": "1001"}, "page_size", 400),
        ({"page_size": "ten"}, "page_size", 400),
        ({"account": "a\x00b"}, "account", 400),
        ({"cursor": "not-a-cursor"}, "cursor", 404),
    ],
)
def test_bad_usage_parameters_are_named(record, writer, params, field, status):
    assert_error(writer.get("/api/v1/usage-events/", params), status, field=field)


def test_a_forged_cursor_is_a_404_not_a_server_error(record, writer):
    import base64

    forged = base64.b64encode(b"p=not-a-time&o=0&r=0").decode()
    assert_error(writer.get("/api/v1/usage-events/", {"cursor": forged}), 404, field="cursor")


# --- the record and the Terms --------------------------------------------------------------


def test_accounts_batches_terms_and_clauses(record, writer):
    accounts = writer.get("/api/v1/accounts/").json()
    assert [a["account_id"] for a in accounts["results"]] == sorted(ACCOUNTS)
    one = writer.get("/api/v1/accounts/acct_fox01/").json()
    assert one["email"] == "acct_fox01@example.test"
    assert_error(writer.get("/api/v1/accounts/acct_nobody/"), 404)
    batches = writer.get("/api/v1/batches/").json()
    assert {b["kind"] for b in batches["results"]} == {"accounts", "usage", "terms"}
    assert_error(writer.get("/api/v1/batches/", {"limit": "-1"}), 400, field="limit")

    documents = writer.get("/api/v1/terms/").json()["results"]
    assert documents[0]["slug"] == "services-agreement"
    assert [v["label"] for v in documents[0]["versions"]] == ["2025-06-01"]
    version = writer.get("/api/v1/terms/services-agreement/versions/2025-06-01/").json()
    assert version["text_sha256"] == hashlib.sha256(version["text"].encode()).hexdigest()
    paths = [c["path"] for c in version["clauses"]]
    assert "3.3(a)" in paths
    clauses = writer.get(
        "/api/v1/clauses/", {"document": "services-agreement", "version": "2025-06-01"}
    ).json()
    assert [c["path"] for c in clauses["results"]] == paths
    clause = clauses["results"][0]
    assert writer.get(f"/api/v1/clauses/{clause['id']}/").json() == clause
    assert_error(writer.get("/api/v1/clauses/", {"category": "nonsense"}), 400, field="category")
    assert_error(writer.get("/api/v1/terms/no-such-terms/"), 404)
    # The title and the heading are kept, but an allegation picks from the operative ones.
    kinds = {c["path"]: c["kind"] for c in clauses["results"]}
    assert kinds["services-agreement"] == "title" and kinds["3"] == "heading"
    operative = writer.get("/api/v1/clauses/", {"kind": "operative"}).json()["results"]
    assert [c["path"] for c in operative] == [p for p in paths if kinds[p] == "operative"]
    assert "3.3(a)" in [c["path"] for c in operative]
    assert_error(writer.get("/api/v1/clauses/", {"kind": "nonsense"}), 400, field="kind")


def test_clusters_and_findings_of_the_latest_finished_run(record, writer):
    from django.utils import timezone

    from evidence.models import Account, Cluster, ClusterMember, DetectionRun, Finding

    now = timezone.now()
    accounts = {a.account_id: a for a in Account.objects.all()}

    def run(status="finished"):
        return DetectionRun.objects.create(
            started_at=now, finished_at=now, status=status, actor="system:test"
        )

    old, latest, failed = run(), run(), run("failed")
    for detection in (old, latest, failed):
        cluster = Cluster.objects.create(
            run=detection, score=80, band="high", size=2, explanation="one card", created_at=now
        )
        for account_id in ("acct_fox01", "acct_fox02"):
            ClusterMember.objects.create(cluster=cluster, account=accounts[account_id])
        Finding.objects.create(
            run=detection,
            detector="probability_harvesting",
            detector_version="1",
            account=accounts["acct_fox01"],
            window_start=T0,
            window_end=T0,
            value=0.9,
            threshold=0.5,
            fired=True,
            explanation="logprobs on 90% of requests",
            created_at=now,
        )
    clusters = writer.get("/api/v1/clusters/").json()["results"]
    assert [(c["run"], c["members"]) for c in clusters] == [
        (latest.pk, ["acct_fox01", "acct_fox02"])
    ]
    assert writer.get(f"/api/v1/clusters/{clusters[0]['id']}/").json()["links"] == []
    assert [
        c["run"] for c in writer.get("/api/v1/clusters/", {"run": old.pk}).json()["results"]
    ] == [old.pk]
    # A failed run's partial results are not findings.
    assert writer.get("/api/v1/clusters/", {"run": failed.pk}).json()["results"] == []
    failed_cluster = Cluster.objects.get(run=failed)
    assert_error(writer.get(f"/api/v1/clusters/{failed_cluster.pk}/"), 404)

    findings = writer.get("/api/v1/findings/", {"account": "acct_fox01", "fired": "true"}).json()
    assert [(f["run"], f["detector"], f["account"]) for f in findings["results"]] == [
        (latest.pk, "probability_harvesting", "acct_fox01")
    ]
    assert writer.get("/api/v1/findings/", {"fired": "false"}).json()["results"] == []
    assert_error(writer.get("/api/v1/findings/", {"fired": "yes"}), 400, field="fired")
    assert_error(writer.get("/api/v1/findings/", {"run": "1.5"}), 400, field="run")


def test_verification_status(record, writer):
    from evidence.custody.verification import evidence_verify

    assert writer.get("/api/v1/verification/").json()["ok"] is None  # never verified
    evidence_verify(actor="system:test")
    status = writer.get("/api/v1/verification/").json()
    assert status["ok"] is True and status["failures"] == [] and status["ledger"]["head_seq"]
    reviewer = user_with_role("rita", "external reviewer")
    theirs = token_client(reviewer, "read").get("/api/v1/verification/").json()
    assert theirs["ok"] is True and theirs["failures"] is None  # failures name records


# --- reports ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_request_poll_and_download_a_report(record, writer, signing):
    from casework.reports import report_build

    open_case(writer)
    base = "/api/v1/cases/PACTA-2026-001"
    writer.post(
        f"{base}/accounts/", {"accounts": ["acct_fox01"], "basis": "payment"}, format="json"
    )
    requested = writer.post(f"{base}/reports/", {"edition": "counsel"}, format="json")
    assert requested.status_code == 202, requested.content
    job = requested.json()
    assert requested["Location"] == f"{base}/reports/{job['id']}/"
    assert (job["status"], job["edition"], job["pdf"]) == ("queued", "counsel", None)
    # The same case asked again is the same job.
    assert (
        writer.post(f"{base}/reports/", {"edition": "counsel"}, format="json").json()["id"]
        == (job["id"])
    )
    assert_error(writer.get(f"{base}/reports/{job['id']}/pdf/"), 409)
    assert writer.get(f"{base}/reports/{job['id']}/exhibits/").json()["results"] == []

    report_build(job=ReportJob.objects.get(pk=job["id"]))  # what the worker does

    polled = writer.get(requested["Location"]).json()
    assert (polled["status"], polled["percent"]) == ("done", 100)
    pdf = writer.get(f"{base}/reports/{job['id']}/pdf/", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf.streaming_content)
    assert body.startswith(b"%PDF")
    stored = ReportJob.objects.get(pk=job["id"]).pdf
    assert hashlib.sha256(body).hexdigest() == stored.sha256
    exhibits = writer.get(f"{base}/reports/{job['id']}/exhibits/").json()["results"]
    assert exhibits and any(e["file_name"].endswith(".csv") for e in exhibits)
    exhibit = next(e for e in exhibits if e["file_name"].endswith(".csv"))
    download = writer.get(f"{base}/reports/{job['id']}/exhibits/{exhibit['id']}/")
    assert download["Content-Type"] == "text/csv"
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == exhibit["sha256"]
    # Each download is in the ledger, under the file, naming the case.
    exported = LedgerEntry.objects.filter(action="exported", details__case="PACTA-2026-001")
    assert {e.object_id for e in exported} == {str(stored.pk), str(exhibit["id"])}


def test_a_report_request_needs_the_report_ability(record, counsel, writer):
    from casework.models import Case
    from casework.services import case_member_add

    open_case(writer)
    case = Case.objects.get()
    investigator = user_with_role("ines", "investigator")
    case_member_add(actor=counsel, case=case, user=investigator, role="investigator")
    theirs = token_client(investigator, "read", "write")
    response = theirs.post(
        "/api/v1/cases/PACTA-2026-001/reports/", {"edition": "counsel"}, format="json"
    )
    assert_error(response, 403)
    assert not ReportJob.objects.exists()
    bad = writer.post("/api/v1/cases/PACTA-2026-001/reports/", {"edition": "x"}, format="json")
    assert_error(bad, 400, field="edition")


# --- the schema --------------------------------------------------------------------------------


def test_the_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn turns any schema warning or validation error into a CommandError.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    assert "/api/v1/cases/" in (tmp_path / "schema.yaml").read_text()


@pytest.fixture
def schema() -> dict:
    response = APIClient().get("/api/schema/")  # public, like any published API description
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_every_operation_declares_its_errors_in_the_one_shape(schema):
    operations = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 30
    for method, path, operation in operations:
        where = f"{method} {path}"
        responses = operation["responses"]
        assert {"401", "403", "429"} <= set(responses), where
        assert "security" in operation and {"token": []} in operation["security"], where
        assert "Token scope: `" in operation["description"], where
        for status, response in responses.items():
            if status.startswith("4"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith(("/ApiError", "/IngestRefused")), where
        if "{" in path:
            assert "404" in responses or path.startswith("/api/v1/ingest/"), where
        if method == "POST":
            assert {"400", "415"} <= set(responses), where


def test_the_docs_page_serves_its_assets_itself():
    client = APIClient()
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert "/api/schema/" in html


@pytest.mark.django_db
def test_max_length_is_of_the_text_as_sent_not_as_trimmed(client):
    """Found by schemathesis: 301 characters with a leading tab were trimmed to 300 and
    accepted, although the schema promises maxLength 300 for the value as sent."""
    from tests.factories import user_with_role

    client.force_login(user_with_role("carla", "counsel"))
    response = client.post(
        "/api/v1/cases/",
        {"reference": "LEN-1", "title": "t", "respondent": "\t" + "r" * 300},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "respondent" in response.json()["error"]["fields"]
