"""Records apart from analysis (issue #18, item 2).

A real detection run over the report tests' case: business-record exhibits carry only the
source system's fields and row hashes; what the report derives is in exhibits labelled
FRE 1006 summary or analysis; the native files the batch hashes cover are produced whole
or as byte-exact excerpts that check against them; the baseline population, the lexicons
and every detector of the run (null results included) are produced, and the methods
appendix states the cluster score and bands the code applies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

import pytest

from casework.reports.exhibits import exhibits_write
from casework.reports.exhibits_methods import methods_appendix
from casework.reports.redaction import Redactor
from casework.reports.snapshot import case_snapshot
from evidence.detectors import REGISTRY, clusters
from evidence.detectors.census import code_sha256, lexicon_files
from evidence.detectors.measurements import measurements_file
from evidence.detectors.service import detection_run
from evidence.ingest.service import ingest_file, native_file
from evidence.models import EvidenceItem, IngestBatch
from tests.casework.test_reports import (  # noqa: F401  (the fixture)
    ACCOUNTS,
    BYSTANDER,
    _build,
    _text,
    case,
)
from tests.factories import ndjson_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

# The account system's own fields (DESIGN.md's native account record), then the row hash
# and the batch it came in.
ACCOUNT_SOURCE_FIELDS = [
    "account_id", "org_name", "email", "created_at", "country", "billing_country",
    "payment_fingerprint", "signup_ip", "signup_user_agent", "plan", "status", "reseller",
    "content_sha256", "ingest_batch",
]  # fmt: skip
DERIVED = {
    "case_group", "attribution_basis", "attributed_at", "signals_fired", "requests",
    "assent_records", "version_imported", "first_request", "last_request", "fired", "value",
}  # fmt: skip


@pytest.fixture
def run(case):  # noqa: F811
    return detection_run(actor="system:test")


def _exhibits(reported_case, edition: str, folder: Path, secret: bytes | None = None):
    folder.mkdir()
    snapshot = case_snapshot(case=reported_case)
    exhibits = exhibits_write(
        snapshot=snapshot,
        redactor=Redactor(edition, secret=secret),
        workdir=folder,
        report_data=b"{}",
    )
    return snapshot, {e.file_name: e for e in exhibits}


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def _header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")


def test_business_record_exhibits_carry_no_derived_column(
    run,
    case,  # noqa: F811
    tmp_path,
):
    _, exhibits = _exhibits(case, "counsel", tmp_path / "counsel")
    assert _header(exhibits["accounts.csv"].path) == ACCOUNT_SOURCE_FIELDS
    for name in ("accounts.csv", "assent.csv", "usage.csv"):
        assert exhibits[name].nature == "business record"
        assert not set(_header(exhibits[name].path)) & DERIVED, name
        assert "content_sha256" in _header(exhibits[name].path) or "row_sha256" in _header(
            exhibits[name].path
        )
    # What the report derived is in exhibits labelled as such, one row per account.
    attribution = {r["account_id"]: r for r in _rows(exhibits["attribution.csv"].path)}
    totals = {r["account_id"]: r for r in _rows(exhibits["account-totals.csv"].path)}
    assert set(attribution) == set(totals) == set(ACCOUNTS)
    assert exhibits["attribution.csv"].nature == "analysis"
    assert {r["attribution_basis"] for r in attribution.values()} == {"payment"}
    assert exhibits["account-totals.csv"].nature == "FRE 1006 summary"
    assert [totals[a]["requests"] for a in sorted(ACCOUNTS)] == ["60"] * len(ACCOUNTS)
    assert exhibits["daily.csv"].nature == "FRE 1006 summary"
    assert exhibits["findings.csv"].nature == "analysis"


def test_natives_are_produced_whole_and_hash_to_the_batch(
    run,
    case,  # noqa: F811
    tmp_path,
):
    snapshot, exhibits = _exhibits(case, "counsel", tmp_path / "counsel")
    natives = {r["batch"]: r for r in _rows(exhibits["natives.csv"].path)}
    ingested = [b for b in snapshot.data["batches"] if b["kind"] != "terms"]
    assert {"accounts", "usage", "assent"} <= {b["kind"] for b in ingested}
    for batch in ingested:
        row = natives[str(batch["id"])]
        assert row["produced_as"] == "whole file", row
        exhibit = exhibits[row["exhibit"]]
        assert (
            exhibit.sha256
            == batch["raw_sha256"]
            == IngestBatch.objects.get(pk=batch["id"]).raw_sha256
        )
        assert hashlib.sha256(exhibit.path.read_bytes()).hexdigest() == batch["raw_sha256"]


def test_a_large_native_is_produced_as_excerpts_that_check_against_it(
    run,
    case,  # noqa: F811
    tmp_path,
    settings,
):
    settings.PACTA_REPORT_NATIVE_WHOLE_MAX_BYTES = 100
    snapshot, exhibits = _exhibits(case, "counsel", tmp_path / "counsel")
    usage = next(b for b in snapshot.data["batches"] if b["kind"] == "usage")
    row = next(r for r in _rows(exhibits["natives.csv"].path) if r["batch"] == str(usage["id"]))
    assert row["produced_as"].startswith("excerpts")
    lines = exhibits[row["exhibit"]].path.read_bytes().decode("utf-8").splitlines()
    head, excerpts = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    native = native_file(usage["raw_sha256"]).file.open("rb").read()
    # The reader's check: the whole file hashes to the batch's SHA-256, and each excerpt is
    # the file's bytes at its offset, on its line.
    assert head["file_sha256"] == usage["raw_sha256"] == hashlib.sha256(native).hexdigest()
    file_lines = native.split(b"\n")
    for entry in excerpts:
        data = entry["text"].encode("utf-8")
        assert native[entry["offset"] : entry["offset"] + entry["length"]] == data
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert file_lines[entry["line"] - 1] == data
    # Exactly the case's lines: the bystander's 40 requests are left out.
    assert len(excerpts) == 60 * len(ACCOUNTS)
    assert not any(BYSTANDER in e["text"] for e in excerpts)


def test_the_regulator_edition_withholds_natives_and_pseudonymises_the_baseline(
    run,
    case,  # noqa: F811
    tmp_path,
):
    _, exhibits = _exhibits(case, "regulator", tmp_path / "regulator")
    assert not [name for name in exhibits if name.startswith("native-")]
    natives = {r["kind"]: r for r in _rows(exhibits["natives.csv"].path)}
    for kind in ("accounts", "usage", "assent"):
        assert natives[kind]["produced_as"].startswith("withheld"), natives[kind]
    # The Terms name no customer: their text is produced in every edition, byte for byte.
    terms = natives["terms"]
    assert terms["produced_as"] == "whole file"
    assert exhibits[terms["exhibit"]].sha256 == terms["raw_sha256"]
    baseline = exhibits["baseline.csv"].path.read_text(encoding="utf-8")
    assert BYSTANDER not in baseline and "account_pseudonym" in baseline
    assert not any(a in baseline for a in ACCOUNTS)


def test_the_baseline_holds_every_other_account_the_run_measured(
    run,
    case,  # noqa: F811
    tmp_path,
):
    _, exhibits = _exhibits(case, "counsel", tmp_path / "counsel")
    kept = list(csv.DictReader(io.TextIOWrapper(measurements_file(run).file.open("rb"), "utf-8")))
    assert {r["account_id"] for r in kept} >= {BYSTANDER, *ACCOUNTS}
    others = [r for r in kept if r["account_id"] not in ACCOUNTS]
    baseline = _rows(exhibits["baseline.csv"].path)
    assert [(r["detector"], r["account_id"], r["value"]) for r in baseline] == [
        (r["detector"], r["account_id"], r["value"]) for r in others
    ]
    assert sum(run.counts["signals_measured"].values()) == len(kept)


def test_every_detector_of_the_run_is_in_the_methods_appendix_and_the_section(
    run,
    case,  # noqa: F811
    counsel_user,
    tmp_path,
):
    snapshot, exhibits = _exhibits(case, "public", tmp_path / "public")
    appendix = json.loads(exhibits["methods.json"].path.read_bytes())
    assert exhibits["methods.json"].path.read_bytes() == methods_appendix(snapshot.data)
    listed = {d["code"]: d for d in appendix["detectors"]}
    assert set(listed) == set(run.detector_versions) == set(REGISTRY)
    for code, entry in listed.items():
        assert entry["version_run"] == run.detector_versions[code]
        assert entry["code_sha256"] == code_sha256(REGISTRY[code])
        assert entry["parameters"]["threshold"] == REGISTRY[code].threshold
    nothing = [d for d in appendix["detectors"] if d["outcome"] == "ran, found nothing"]
    assert nothing, "a small world leaves some detectors with nothing found"
    detectors_csv = _rows(exhibits["detectors.csv"].path)
    assert [r["detector"] for r in detectors_csv] == sorted(run.detector_versions)
    # The score and bands are the code's constants, not a retyped copy.
    score = appendix["cluster_score"]
    assert score["score_points"] == clusters.SCORE_POINTS
    assert score["conduct_weights"] == clusters.CONDUCT_WEIGHTS
    assert score["campaign_points"] == clusters.CAMPAIGN_POINTS
    assert f"min(1, strong members / {clusters.STRONG_MEMBERS_FULL})" in score["formula"]
    assert [b["band"] for b in score["bands"]] == ["critical", "high", "review", "none"]
    # The lexicons are produced byte for byte, with the hashes the appendix gives.
    for lexicon in lexicon_files():
        assert exhibits[lexicon["file"]].path.read_bytes() == lexicon["path"].read_bytes()
        assert {"file": lexicon["file"], "sha256": lexicon["sha256"]}.items() <= next(
            entry for entry in appendix["lexicons"] if entry["file"] == lexicon["file"]
        ).items()

    job = _build(case, "public", counsel_user)
    path = tmp_path / "public.pdf"
    path.write_bytes(job.pdf.file.read())
    # pdftotext hyphenates table cells where they wrap ("regu-" U+2010 "lator"): join them again.
    text = " ".join(re.sub("\u2010\\s+", "", _text(path)).split())
    assert f"All {len(listed)} detectors of the run are listed" in text
    for entry in appendix["detectors"]:
        assert f"({entry['code']})" in text, entry["code"]
    assert f"including the {len(nothing)} that ran and found nothing" in text
    assert "Cluster score and bands" in text and "rounded to one decimal" in text


def test_the_cluster_score_is_the_formula_the_appendix_states():
    from collections import Counter

    levels = Counter({"strong": 2, "moderate": 1, "weak": 1})
    w, p = clusters.CONDUCT_WEIGHTS, clusters.SCORE_POINTS
    share = (2 * w["strong"] + w["moderate"] + w["weak"]) / 5
    expected = p["conduct_share"] * share + p["concealed"] + p["strong_members"]
    assert clusters.cluster_score(
        levels=levels, size=5, concealed=True, circumvention=False
    ) == round(expected, 1)


def test_ingest_keeps_the_native_file_once(tmp_path, settings):
    path = ndjson_file(tmp_path / "accounts.ndjson", [{"account_id": "acct_native"}])
    first = ingest_file(actor="system:test", kind="accounts", path=path)
    again = ingest_file(actor="system:test", kind="accounts", path=path, file_name="again.ndjson")
    kept = EvidenceItem.objects.filter(kind=EvidenceItem.Kind.RAW_UPLOAD)
    assert kept.count() == 1 and first.sha256 == again.sha256
    assert native_file(first.sha256).file.open("rb").read() == path.read_bytes()

    settings.PACTA_INGEST_KEEP_NATIVE = False
    other = ndjson_file(tmp_path / "more.ndjson", [{"account_id": "acct_native_2"}])
    result = ingest_file(actor="system:test", kind="accounts", path=other)
    assert result.accepted == 1 and native_file(result.sha256) is None
