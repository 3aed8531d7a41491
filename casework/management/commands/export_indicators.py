"""`python manage.py export_indicators CLUSTER_ID --partner NAME --out FILE
[--tlp green|amber|red] [--json]`.

Writes a detected cluster's indicators as a STIX 2.1 bundle for one partner (address
ranges in clear; emails, payment fingerprints and request shapes as keyed hashes under
the key agreed with that partner) and ledgers what was shared with whom. CLUSTER_ID is a
cluster's number or its identity (C-0007, in the latest run that names it).
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied

from casework.countermeasures.indicators import (
    TLP,
    IndicatorError,
    cluster_find,
    indicators_export,
)
from casework.countermeasures.models import SharingPartner
from evidence.custody.ledger import SystemActor
from evidence.management.base import CheckFailed, PactaCommand


class Command(PactaCommand):
    help = "Export a cluster's indicators as a STIX 2.1 bundle for a sharing partner."

    def arguments(self, parser) -> None:
        parser.add_argument("cluster", metavar="CLUSTER_ID")
        parser.add_argument("--partner", required=True, metavar="NAME")
        parser.add_argument("--out", required=True, metavar="FILE")
        parser.add_argument("--tlp", choices=sorted(TLP), default="amber")

    def run(self, **options) -> None:
        partner = SharingPartner.objects.filter(name=options["partner"]).first()
        if partner is None:
            self.usage_error(f"--partner {options['partner']!r}: no such sharing partner")
        try:
            cluster = cluster_find(reference=options["cluster"])
        except IndicatorError as exc:
            self.usage_error(str(exc))
        try:
            exchange = indicators_export(
                actor=SystemActor.CLI,
                cluster=cluster,
                partner=partner,
                out=Path(options["out"]),
                tlp=options["tlp"],
            )
        except (IndicatorError, PermissionDenied) as exc:
            raise CheckFailed(str(exc)) from exc
        document = {
            "exchange": exchange.pk,
            "partner": partner.name,
            "cluster": cluster.identity,
            "tlp": exchange.tlp,
            "file": options["out"],
            "sha256": exchange.bundle_sha256,
            "counts": exchange.counts,
        }
        shown = ", ".join(f"{n} {kind}" for kind, n in exchange.counts.items())
        self.done(
            document,
            text=f"Shared cluster {cluster.identity} with {partner.name} (TLP:"
            f"{exchange.tlp.upper()}): {shown}. Wrote {options['out']}.",
        )
