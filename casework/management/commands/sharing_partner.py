"""`python manage.py sharing_partner NAME (--key-to FILE | --key-from FILE) [--json]`.

Registers a partner to exchange indicators with. `--key-to` generates a fresh 256-bit
sharing key and writes it to FILE (readable by its owner only) to hand to the partner
over a secure channel; `--key-from` takes the key the partner generated. The key itself
is never printed, ledgered or put in a bundle; its id is, so both sides can compare.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import PermissionDenied

from casework.countermeasures.indicators import IndicatorError, sharing_partner_add
from evidence.custody.ledger import SystemActor
from evidence.management.base import CheckFailed, PactaCommand


class Command(PactaCommand):
    help = "Register a sharing partner with a new or a handed-over sharing key."

    def arguments(self, parser) -> None:
        parser.add_argument("name", metavar="NAME")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--key-to", metavar="FILE")
        source.add_argument("--key-from", metavar="FILE")

    def run(self, **options) -> None:
        key, descriptor = None, None
        if options["key_from"]:
            try:
                key = Path(options["key_from"]).read_text().strip()
            except OSError as exc:
                self.usage_error(f"--key-from {options['key_from']}: {exc}")
        else:
            # Created (never overwritten) before the partner is registered, so a key is
            # never registered that could not be written down to hand over.
            try:
                descriptor = os.open(options["key_to"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                self.usage_error(f"--key-to {options['key_to']}: {exc}")
        try:
            partner = sharing_partner_add(actor=SystemActor.CLI, name=options["name"], key=key)
        except (IndicatorError, PermissionDenied) as exc:
            if descriptor is not None:
                os.close(descriptor)
                os.unlink(options["key_to"])
            raise CheckFailed(str(exc)) from exc
        if descriptor is not None:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(partner.sharing_key + "\n")
        self.done(
            {"partner": partner.name, "key_id": partner.key_id},
            text=f"Registered {partner.name}; sharing key id {partner.key_id}.",
        )
