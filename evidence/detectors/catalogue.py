"""The provider's model catalogue and plan limits, loaded from its own JSON exports.

Release dates drive the release-chasing signal; list prices are what damages are computed
at (Terms 13.3); plan limits say what "running at its limit" means. They are reference
data, not business records of a customer, but a report relies on them, so each import is
hashed and ledgered with what it changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from evidence.custody import events
from evidence.custody.ledger import Actor
from evidence.models import ModelRelease, PlanLimit


class CatalogueError(ValueError):
    """The file is not a catalogue this service can read; nothing was changed."""


def _load(path: Path) -> tuple[list[Any], str]:
    raw = Path(path).read_bytes()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, list):
        raise CatalogueError(f"{path}: expected a JSON list of entries")
    return data, hashlib.sha256(raw).hexdigest()


def _price(entry: dict, name: str, where: str) -> Decimal:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CatalogueError(f"{where}: {name} must be a number")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise CatalogueError(f"{where}: {name} must be a number") from None
    if not price.is_finite() or price < 0:
        raise CatalogueError(f"{where}: {name} must be a non-negative number")
    return price


def _released(entry: dict, where: str) -> dt.datetime:
    value = entry.get("released")
    try:
        released = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise CatalogueError(f"{where}: released must be an ISO-8601 timestamp") from None
    if released.tzinfo is None:
        raise CatalogueError(f"{where}: released has no time zone")
    return released.astimezone(dt.UTC)


def models_import(*, actor: Actor, path: Path) -> dict[str, Any]:
    """Add or update each model's release date and list prices; ledger the import."""
    data, sha256 = _load(path)
    entries = {}
    for number, entry in enumerate(data, start=1):
        where = f"{Path(path).name} entry {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise CatalogueError(f"{where}: needs a model name")
        entries[entry["model"]] = {
            "released_at": _released(entry, where),
            "list_price_per_mtok_input": _price(entry, "list_price_per_mtok_input", where),
            "list_price_per_mtok_output": _price(entry, "list_price_per_mtok_output", where),
        }
    return _upsert(ModelRelease, "model", entries, actor=actor, path=path, sha256=sha256)


def plans_import(*, actor: Actor, path: Path) -> dict[str, Any]:
    """Add or update each plan's published per-account rate limits; ledger the import."""
    data, sha256 = _load(path)
    entries = {}
    for number, entry in enumerate(data, start=1):
        where = f"{Path(path).name} entry {number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("plan"), str):
            raise CatalogueError(f"{where}: needs a plan name")
        limits = {}
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = entry.get(name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise CatalogueError(f"{where}: {name} must be a positive whole number")
            limits[name] = value
        entries[entry["plan"]] = limits
    return _upsert(PlanLimit, "plan", entries, actor=actor, path=path, sha256=sha256)


def _upsert(model, key: str, entries: dict, *, actor: Actor, path: Path, sha256: str) -> dict:
    now = timezone.now()
    created, updated, unchanged, changes = 0, 0, 0, []
    with transaction.atomic():
        existing = {getattr(row, key): row for row in model.objects.select_for_update()}
        for name, values in sorted(entries.items()):
            row = existing.get(name)
            if row is None:
                model.objects.create(
                    **{key: name},
                    **values,
                    source_file=Path(path).name,
                    source_sha256=sha256,
                    imported_at=now,
                )
                created += 1
                continue
            before = {field: getattr(row, field) for field in values}
            if before == values:
                unchanged += 1
                continue
            changes.append({key: name, "before": before, "after": values})
            for field, value in values.items():
                setattr(row, field, value)
            row.source_file, row.source_sha256, row.imported_at = Path(path).name, sha256, now
            row.save()
            updated += 1
        summary = {
            "file": Path(path).name,
            "sha256": sha256,
            "created": created,
            "updated": updated,
            "unchanged": unchanged,
        }
        events.catalogue_imported(
            actor=actor, object_type=model._meta.model_name, summary=summary, changes=changes
        )
    return summary
