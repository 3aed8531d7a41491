"""Demo mode: the users and the scenario behind `make demo`.

This is the only place in Pacta that creates default users, and it says so loudly: the
demo password is public, so these accounts must never exist outside a demo.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

DEMO_PASSWORD = "pacta-demo"  # noqa: S105 - public by design, documented in the README
DEMO_USERS = (
    ("counsel", "counsel", "Casey", "Counsel"),
    ("investigator", "investigator", "Ines", "Investigator"),
    ("viewer", "viewer", "Victor", "Viewer"),
)
ROLE_GROUPS = ("admin", "counsel", "investigator", "viewer", "external reviewer")


@transaction.atomic
def demo_users_seed() -> list[str]:
    """Create (or reset) the three demo users and the role groups they belong to."""
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)
    user_model = get_user_model()
    made = []
    for username, group, first, last in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=username)
        user.first_name, user.last_name = first, last
        user.email = f"{username}@pacta-demo.invalid"
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name=group))
        made.append(username)
    return made


TERMS_TITLE = "Services Agreement"


def demo_record_load(*, scenario_dir: Path) -> list[str]:
    """Load the scenario into the record as an operator would: Terms, accounts, assent, usage.

    Safe to rerun: Terms versions already imported and rows already stored are recognised
    and counted as duplicates, so `make demo` twice does not double the record.
    """
    from evidence.ingest.service import ingest_file
    from evidence.terms import terms_import

    lines = []
    for path in sorted((scenario_dir / "terms").glob("*.md")):
        slug, _, label = path.stem.rpartition("-20")
        label = "20" + label
        result = terms_import(
            actor="system:demo",
            path=path,
            document_slug=slug,
            title=TERMS_TITLE,
            version_label=label,
            effective=dt.date.fromisoformat(label),
        )
        lines.append(f"Terms {result.document} {result.version}: {result.clauses} clauses")
    for kind, name in (
        ("accounts", "accounts.ndjson"),
        ("assent", "assent.ndjson"),
        ("usage", "usage.ndjson"),
    ):
        result = ingest_file(
            actor="system:demo", kind=kind, path=scenario_dir / name, source="demo"
        )
        lines.append(
            f"{kind}: {result.accepted} accepted, {result.duplicates} duplicate, "
            f"{result.rejected} rejected (batch {result.batch})"
        )
    return lines


def demo_scenario_ensure(*, out_dir: Path, accounts: int, events: int, seed: int) -> dict:
    """Generate the demo world once; a rerun with the same arguments reuses the files."""
    from evidence.scenario import scenario_generate

    stamp = out_dir / ".generated.json"
    wanted = {"accounts": accounts, "events": events, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return {"reused": True, **wanted}
    summary = scenario_generate(out_dir=out_dir, accounts=accounts, events=events, seed=seed)
    stamp.write_text(json.dumps(wanted))
    return {"reused": False, **summary}
