"""`python manage.py custody {account|evidence_item|case} ID [--json]`: the chain of custody."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from evidence.custody.preservation import custody_history


class Command(BaseCommand):
    help = "Every act on an evidence item, account or case, oldest first, who and when."

    def add_arguments(self, parser) -> None:
        parser.add_argument("object_type", choices=["account", "evidence_item", "case"])
        parser.add_argument("object_id", metavar="ID")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, object_type: str, object_id: str, **options) -> None:
        events = custody_history(object_type=object_type, object_id=object_id)
        if options["json"]:
            for event in events:
                event["at"] = event["at"].isoformat()
            self.stdout.write(json.dumps(events, indent=2))
            return
        if not events:
            self.stdout.write(f"Nothing is recorded for {object_type} {object_id}.")
        for event in events:
            seq = f"#{event['ledger_seq']}" if event["ledger_seq"] else "  "
            self.stdout.write(
                f"{event['at']:%Y-%m-%d %H:%M:%S} {seq:>7} {event['action']:<10} "
                f"{event['actor']:<20} {event['object']}"
            )
