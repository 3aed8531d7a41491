"""`python manage.py import_indicators FILE --partner NAME [--json]`.

Reads a partner's STIX 2.1 bundle, matches it against the record (keyed hashes under the
key agreed with that partner, and address ranges) and records each match as a finding on
the account ("seen at partner NAME"); the import is ledgered.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied

from casework.countermeasures.indicators import IndicatorError, indicators_import
from casework.countermeasures.models import SharingPartner
from evidence.custody.ledger import SystemActor
from evidence.management.base import CheckFailed, PactaCommand


class Command(PactaCommand):
    help = "Import a partner's STIX 2.1 bundle and record which accounts it matches."

    def arguments(self, parser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--partner", required=True, metavar="NAME")

    def run(self, **options) -> None:
        partner = SharingPartner.objects.filter(name=options["partner"]).first()
        if partner is None:
            self.usage_error(f"--partner {options['partner']!r}: no such sharing partner")
        path = Path(options["file"])
        if not path.is_file():
            self.usage_error(f"FILE {path}: no such file")
        try:
            exchange = indicators_import(actor=SystemActor.CLI, path=path, partner=partner)
        except (IndicatorError, PermissionDenied) as exc:
            raise CheckFailed(str(exc)) from exc
        accounts = sorted(set(exchange.matches.values_list("account__account_id", flat=True)))
        document = {
            "exchange": exchange.pk,
            "partner": partner.name,
            "sha256": exchange.bundle_sha256,
            "counts": exchange.counts,
            "accounts_matched": accounts,
        }
        self.done(
            document,
            text=f"{exchange.counts['matches']} match(es) from {partner.name} on "
            f"{len(accounts)} account(s): {', '.join(accounts) or 'none'}.",
        )
