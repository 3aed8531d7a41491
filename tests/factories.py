"""Builders of what tests need: users in their role, API tokens, usage events and the files
that carry them, Terms versions, clusters of a finished detection run, and cases with their
members and accounts.

Each builds through the project's own services (a case is opened, ledgered and owned as in
the UI), so a test's world is one the application could have made. A test passes the facts
it relies on; the defaults are ordinary values no assertion depends on.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from casework.api_platform.tokens import api_token_issue
from casework.models import ApiToken, Case
from casework.services import case_accounts_attribute, case_member_add, case_open
from evidence.models import Account, Cluster, ClusterMember, DetectionRun
from evidence.terms.services import TermsImportResult, terms_import

PASSWORD = "a-long-password-1"


# --- people and tokens ---------------------------------------------------------------------


def user_with_role(username: str, role: str | None = None):
    """A user holding one global role (a group created by migration casework 0004)."""
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def api_token(
    user, *scopes: str, days: int | None = None, name: str = "pipeline"
) -> tuple[ApiToken, str]:
    """An API token issued to `user` as `issue_token` issues it: the row and the plaintext."""
    return api_token_issue(actor="system:test", user=user, name=name, scopes=scopes, days=days)


def bearer_client(plaintext: str) -> APIClient:
    """An API client presenting the token `plaintext`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def token_client(user, *scopes: str) -> APIClient:
    """An API client holding a fresh one-day token of `user` with `scopes`."""
    return bearer_client(api_token(user, *scopes, days=1)[1])


# --- records as a provider sends them ------------------------------------------------------


def usage_event(n: int, *, bare: bool = False, **overrides: Any) -> dict[str, Any]:
    """Usage event number `n` in the native format: three accounts and keys take turns.

    `bare` leaves out what a minimal pipeline does not send (endpoint, network, end user,
    parameters, status). An override of None removes the field.
    """
    event: dict[str, Any] = {
        "request_id": f"req_{n:06d}",
        "ts": f"2026-01-05T10:{n // 60 % 60:02d}:{n % 60:02d}.123Z",
        "account_id": f"acct_{n % 3}",
        "api_key_id": f"key_{n % 3}",
        "model": "frontier-2",
        "endpoint": "/v1/chat/completions",
        "input_tokens": 400 + n,
        "output_tokens": 800 + n,
        "source_ip": "203.0.113.7",
        "user_agent": "python-httpx/0.27",
        "end_user": "cust-99",
        "params": {"logprobs": True, "top_logprobs": 5, "temperature": 0.7, "max_tokens": 4096},
        "prompt": f"Solve step by step: what is {n} * 41?",
        "status": 200,
    }
    if bare:
        for name in ("endpoint", "source_ip", "user_agent", "end_user", "params", "status"):
            del event[name]
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


def ndjson_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    """Rows as NDJSON: one JSON object a line, each line ended."""
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def ndjson_file(path: Path, rows: Iterable[dict[str, Any]], *, gz: bool = False) -> Path:
    """`rows` written to `path` as NDJSON (gzip-compressed with `gz`)."""
    data = ndjson_bytes(rows)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# --- Terms and cases -----------------------------------------------------------------------


def terms_version(
    folder: Path,
    text: str,
    *,
    label: str,
    effective: dt.date | str | None = None,
    document: str = "services-agreement",
    title: str = "Services Agreement",
    file_name: str = "",
    **kwargs: Any,
) -> TermsImportResult:
    """Import `text` as version `label` of a Terms document, as `import_terms` does.

    `effective` defaults to the label read as a date (labels are usually the date).
    """
    path = folder / (file_name or f"terms-{label}.md")
    path.write_text(text)
    effective = effective or label
    return terms_import(
        actor="system:test",
        path=path,
        document_slug=document,
        title=title,
        version_label=label,
        effective=dt.date.fromisoformat(effective) if isinstance(effective, str) else effective,
        **kwargs,
    )


def case_with_members(
    *,
    owner,
    reference: str,
    title: str = "Distillation",
    respondent: str = "Blue Finch",
    members: Iterable[tuple[Any, str]] = (),
    accounts: Iterable[Account] = (),
    basis: str = "payment",
    detail: str = "",
    **fields: Any,
) -> Case:
    """A case opened by `owner` (who owns it), with `(user, role)` members and `accounts`
    attributed on `basis`; `fields` go to `case_open` (window, privilege)."""
    case = case_open(actor=owner, reference=reference, title=title, respondent=respondent, **fields)
    for user, role in members:
        case_member_add(actor=owner, case=case, user=user, role=role)
    accounts = list(accounts)
    if accounts:
        case_accounts_attribute(
            actor=owner, case=case, accounts=accounts, basis=basis, detail=detail
        )
    return case


def finished_cluster(identity: str, account_ids: Iterable[str], *, score: int = 90) -> Cluster:
    """A cluster of the named accounts, as a finished detection run found it."""
    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status="finished", actor="system:detector"
    )
    account_ids = list(account_ids)
    cluster = Cluster.objects.create(
        run=run,
        identity=identity,
        score=score,
        band="critical",
        size=len(account_ids),
        explanation="Found by the detectors",
        created_at=now,
    )
    for account in Account.objects.filter(account_id__in=account_ids):
        ClusterMember.objects.create(cluster=cluster, account=account)
    return cluster
