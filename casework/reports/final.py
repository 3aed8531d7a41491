"""What a final report rests on, checked when it is built (issue #18).

A draft may be built with blanks: it is marked DRAFT on every page and in its metadata, and
is for review. A final report is evidence someone stands behind, so it refuses to build
(naming everything missing at once) without: the approvals of its draft
(`review.report_sign_off`), a declarant with name, title, organisation and place, and a
production signing identity, never the DEMO one. In demo mode (`PACTA_DEMO`, which
`make demo` sets) every final report is marked DEMONSTRATION on every page, and only then
are the DEMO identity and the demo's declarant (for what settings leave blank) allowed. It
rests on a verification of the record that passed within `PACTA_VERIFICATION_MAX_AGE_HOURS`
(run by the build when the latest is older), whose result rides inside the signed file with
an extract of the ledger covering the case's objects; with a timestamp authority
configured, its signature must carry a trusted timestamp.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from casework.models import CaseRole, ReportEdition, ReportJob, ReportReview
from casework.reports.exhibits import Exhibit
from casework.reports.jobs import ReportError
from casework.reports.redaction import Redactor
from casework.reports.review import METHODS_SECTIONS, SignOff, report_sign_off
from casework.reports.signing import (
    signature_validate,
    signing_identity_problem,
    trust_roots,
)
from casework.reports.snapshot import Snapshot
from casework.reports.snapshot.custody import case_objects
from casework.services import DECLARANT_FIELDS
from evidence.custody.canonical import sha256_hex, utc_iso
from evidence.custody.ledger import SystemActor
from evidence.custody.verification import (
    evidence_verify,
    verification_as_dict,
    verification_latest,
)
from evidence.models import LedgerEntry, VerificationRun

# What the declaration needs, and the setting that gives each.
DECLARANT_SETTINGS = tuple(
    (field, f"PACTA_REPORT_DECLARANT_{field.upper()}") for field in DECLARANT_FIELDS
)
# Demo mode's declarant, for the fields settings leave blank: nobody real declares anything
# in a report marked DEMONSTRATION.
DEMO_DECLARANT = {
    "name": "Dana Demo",
    "title": "Custodian of Records (demonstration)",
    "organisation": "Pacta demonstration",
    "place": "Demo City",
}
DRAFT_MARK = "DRAFT — NOT FOR RELIANCE"
DEMONSTRATION_MARK = "DEMONSTRATION — NOT EVIDENCE"
# A ledger extract in an edition that is not counsel's keeps the chain (sequence, hashes,
# what kind of act on what kind of object) and drops who and which, as its redactions do.
EXTRACT_FIELDS_REDACTED = (
    "seq", "recorded_at", "action", "object_type", "object_sha256", "prev_hash", "entry_hash",
)  # fmt: skip


def declarant(case=None) -> dict[str, str]:
    """The custodian who makes the declaration: the one `case` names (all four fields, set
    by `services.case_declarant_set`), else the settings' (blank where unset)."""
    if case is not None and case.declarant_name:
        found = {field: getattr(case, f"declarant_{field}") for field in DECLARANT_FIELDS}
        return {**found, "address": ""}
    found = {field: getattr(settings, name).strip() for field, name in DECLARANT_SETTINGS}
    found["address"] = settings.PACTA_REPORT_DECLARANT_ADDRESS.strip()
    return found


@dataclass
class FinalBasis:
    """What a final report was built on, for its pages and its ledger entry."""

    sign_off: SignOff
    declarant: dict[str, str]
    verification: VerificationRun
    demonstration: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.sign_off.as_dict(),
            "declarant": self.declarant,
            "verification_run": self.verification.pk,
            "verification_finished_at": utc_iso(self.verification.finished_at),
            "demonstration": self.demonstration,
        }


def final_requirements(*, job: ReportJob) -> FinalBasis:
    """Everything a final report needs, or ReportError naming all that is missing."""
    missing = list(report_sign_off(job=job).missing)
    demonstration = bool(settings.PACTA_DEMO)
    found = declarant(job.case)
    if demonstration:
        found.update({k: v for k, v in DEMO_DECLARANT.items() if not found[k]})
    unset = [f"{field} ({name})" for field, name in DECLARANT_SETTINGS if not found[field]]
    if unset:
        missing.append(f"the declarant's {', '.join(unset)}, or a declarant named on the case")
    problem = signing_identity_problem(allow_demo=demonstration)
    if problem is not None:
        missing.append(f"a production signing identity: {problem}")
    if missing:
        raise ReportError(
            f"final report job {job.pk} cannot be built without " + "; ".join(missing)
        )
    return FinalBasis(
        sign_off=report_sign_off(job=job),
        declarant=found,
        verification=verification_passed(),
        demonstration=demonstration,
    )


def verification_passed(*, now: dt.datetime | None = None) -> VerificationRun:
    """The latest verification of the record if it passed within the configured age; a new
    run when there is none that recent. A failed latest run refuses: a final report is not
    built until someone has looked at what failed and verified again."""
    latest = verification_latest()
    if latest is not None and not latest.ok:
        raise ReportError(
            f"the record failed verification run {latest.pk} ({latest.failures_total} "
            "failures): a final report cannot certify it"
        )
    hours = settings.PACTA_VERIFICATION_MAX_AGE_HOURS
    oldest = (now or timezone.now()) - dt.timedelta(hours=hours)
    if latest is None or latest.finished_at < oldest:
        latest = evidence_verify(actor=SystemActor.REPORTS)
        if not latest.ok:
            raise ReportError(
                f"the record failed verification run {latest.pk} ({latest.failures_total} "
                "failures), run for this final report: it cannot certify the record"
            )
    return latest


def final_exhibits(
    *, job: ReportJob, snapshot: Snapshot, basis: FinalBasis, workdir: Path, first: int
) -> list[Exhibit]:
    """The verification's result and the ledger extract, numbered from `first`: they ride
    inside the signed file, so its signature covers them."""
    run = basis.verification
    entry = (
        LedgerEntry.objects.filter(object_type="verification_run", object_id=str(run.pk))
        .values("seq", "entry_hash")
        .first()
    )
    result = {**verification_as_dict(run), "ledger_entry": entry}
    verification = _write(
        workdir / "verification.json",
        (json.dumps(result, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"),
    )
    rows = _ledger_extract(job, snapshot, basis)
    extract = _write(
        workdir / "ledger-extract.ndjson",
        "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in rows).encode("utf-8"),
    )
    return [
        _exhibit(
            first, verification, "Verification of the record",
            f"Verification run {run.pk} of the whole record (ledger chain, every row, batch, "
            f"Terms text and file), finished {utc_iso(run.finished_at)}: "
            f"{'passed' if run.ok else 'failed'}; its ledger entry names it.",
            rows=None, mime="application/json",
        ),
        _exhibit(
            first + 1, extract, "Ledger extract",
            "The ledger entries of what this report rests on (the case, its accounts' links, "
            "batches, Terms, clauses, files, catalogue, detection run), of its draft, its "
            "reviews and the verification run, in order, with the hashes that chain them.",
            rows=len(rows), mime="application/x-ndjson",
        ),
    ]  # fmt: skip


def _ledger_extract(job: ReportJob, snapshot: Snapshot, basis: FinalBasis) -> list[dict]:
    reviews = [str(r["review"]) for r in basis.sign_off.as_dict()["approvals"]]
    relevant = (
        case_objects(job.case, snapshot.data)
        | Q(
            object_type__in=("report_job", "report"), object_id__in=[str(job.draft_id), str(job.pk)]
        )
        | Q(object_type="report_review", object_id__in=reviews)
        | Q(object_type="case_declarant", object_id=job.case.reference)
        | Q(object_type="verification_run", object_id=str(basis.verification.pk))
    )
    entries = LedgerEntry.objects.filter(relevant).order_by("seq").values()
    fields = None if job.edition == ReportEdition.COUNSEL else EXTRACT_FIELDS_REDACTED
    rows = []
    for entry in entries.iterator():
        entry["recorded_at"] = utc_iso(entry["recorded_at"])
        entry.pop("id", None)
        rows.append(entry if fields is None else {k: entry[k] for k in fields})
    return rows


def _write(path: Path, payload: bytes) -> tuple[Path, bytes]:
    path.write_bytes(payload)
    return path, payload


def _exhibit(number, written, title, description, *, rows, mime) -> Exhibit:
    path, payload = written
    return Exhibit(
        number=number,
        file_name=path.name,
        title=title,
        description=description,
        path=path,
        rows=rows,
        sha256=sha256_hex(payload),
        size=len(payload),
        relationship="Supplement",
        mime=mime,
        nature="custody record",
    )


def report_mark(*, job: ReportJob, basis: FinalBasis | None) -> str:
    """What every page of the report carries in its top margin: DRAFT for a draft,
    DEMONSTRATION for a final report signed with the DEMO identity in demo mode."""
    if not job.final:
        return DRAFT_MARK
    return DEMONSTRATION_MARK if basis is not None and basis.demonstration else ""


def timestamp_require(path: Path) -> None:
    """With a timestamp authority configured, a final report's signature must carry a valid
    RFC 3161 timestamp: refuse the build otherwise."""
    result = signature_validate(path, roots=trust_roots())
    stamp = result.get("timestamp")
    if not (stamp and stamp["intact"] and stamp["valid"]):
        raise ReportError(
            f"a timestamp authority is configured ({settings.PACTA_TSA_URL}) but the final "
            "report's signature carries no valid trusted timestamp: "
            + result.get("reason", "no timestamp token")
        )


def sign_off_context(
    *, job: ReportJob, basis: FinalBasis | None, redactor: Redactor
) -> dict[str, Any]:
    """What the pages say of the report's standing: its mark, and who stands behind it
    (the author who asked for it, counsel who approve it, the expert who sponsors its
    methods), with each approval's date once given.

    People are named by their full name; one with none recorded would be named by their
    username, which the public edition never prints: there it gives their role instead."""

    def reviewer_name(user) -> str:
        return user.get_full_name() or redactor.staff_member(
            user.get_username(), where="authorship and review"
        )

    draft = job.draft if job.final else job
    sign_off = basis.sign_off if basis is not None else report_sign_off(job=job)
    experts = [
        reviewer_name(m.user)
        for m in draft.case.memberships.filter(role=CaseRole.EXPERT).select_related("user")
    ]

    def approval(scope: str) -> dict[str, str] | None:
        review = sign_off.decisions.get(scope)
        if review is None or review.decision != ReportReview.Decision.APPROVE:
            return None
        day = review.at.strftime("%d %B %Y").lstrip("0")
        return {"name": reviewer_name(review.reviewer), "at": day}

    return {
        "declarant": basis.declarant if basis is not None else declarant(draft.case),
        "report_status": "final" if job.final else "draft",
        "report_mark": report_mark(job=job, basis=basis),
        "authorship": {
            "author": reviewer_name(draft.requested_by),
            "draft_job": draft.pk,
            "counsel": approval(ReportReview.Scope.WHOLE),
            "expert": approval(ReportReview.Scope.METHODS),
            "experts_named": experts,
            "methods_sections": METHODS_SECTIONS,
        },
    }
