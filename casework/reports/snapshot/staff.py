"""The staff a snapshot names, with their roles: what the public edition prints instead
of a username (a committee's record names the function, not the employee)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from casework.reports.redaction import STAFF_DEFAULT_ROLE, is_staff
from evidence.access import ROLES


def _named(data: dict[str, Any]) -> set[str]:
    """Every label in the snapshot that may be a username."""
    names = {data["case"]["opened_by"]}
    names |= {a["attribution"]["by"] for a in data["accounts"]}
    names |= {a["created_by"] for a in data["allegations"]}
    names |= {b["collector"] for b in data["batches"]}
    custody = data["custody"]
    names |= {e["actor"] for e in custody["case"]}
    names |= {h["actor"] for f in custody["files"] for h in f["history"]}
    countermeasures = data.get("countermeasures") or {}
    for action in countermeasures.get("actions", []):
        names |= {action.get("proposed_by") or "", action.get("approved_by") or ""}
    for notice in countermeasures.get("notices", []):
        names.add(notice.get("issued_by") or "")
    return {name for name in names if is_staff(name)}


def staff_collect(data: dict[str, Any]) -> dict[str, str]:
    """{username: role} for everyone the snapshot names: the user's global role (counsel,
    investigator, ...), "admin" for a superuser, "staff" for anyone else."""
    names = _named(data)
    roles = {}
    users = get_user_model().objects.filter(username__in=names).prefetch_related("groups")
    for user in users:
        groups = {g.name for g in user.groups.all()}
        held = [role for role in ROLES if role in groups]
        roles[user.get_username()] = (
            "admin" if user.is_superuser else (held[0] if held else STAFF_DEFAULT_ROLE)
        )
    return {name: roles.get(name, STAFF_DEFAULT_ROLE) for name in sorted(names)}
