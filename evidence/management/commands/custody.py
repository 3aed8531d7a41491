"""`python manage.py custody {account|evidence_item|case} ID [--json]`: the chain of custody."""

from __future__ import annotations

from evidence.custody.preservation import custody_history
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Every act on an evidence item, account or case, oldest first, who and when."

    def arguments(self, parser) -> None:
        parser.add_argument("object_type", choices=["account", "evidence_item", "case"])
        parser.add_argument("object_id", metavar="ID")

    def run(self, *, object_type: str, object_id: str, **options) -> None:
        events = custody_history(object_type=object_type, object_id=object_id)
        if self.json_mode:
            # To the microsecond, as recorded: the base's encoder would cut to milliseconds.
            for event in events:
                event["at"] = event["at"].isoformat()
            self.done(events)
            return
        lines = []
        if not events:
            lines.append(f"Nothing is recorded for {object_type} {object_id}.")
        for event in events:
            seq = f"#{event['ledger_seq']}" if event["ledger_seq"] else "  "
            lines.append(
                f"{event['at']:%Y-%m-%d %H:%M:%S} {seq:>7} {event['action']:<10} "
                f"{event['actor']:<20} {event['object']}"
            )
        self.done(events, text=lines)
