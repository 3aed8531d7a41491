"""`python manage.py open_case --ref REF --title TITLE --respondent NAME (--cluster ID |
--accounts ID,ID,...) [--clause DOCUMENT:VERSION:PATH ...] [--owner USERNAME] [--json]`.

Opens a case as its owner would in the UI: from a detected cluster or a list of accounts,
with an allegation for each clause named. The owner is `--owner`, else the
PACTA_CASE_OWNER setting, else the only superuser.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction

from casework import services
from evidence.detectors.selectors import detection_run_latest
from evidence.management.base import CheckFailed, PactaCommand, UsageError
from evidence.models import Account, Clause, Cluster, Finding


class Command(PactaCommand):
    help = "Open a case from a detected cluster or from accounts, with allegations."

    def arguments(self, parser) -> None:
        parser.add_argument("--ref", required=True)
        parser.add_argument("--title", required=True)
        parser.add_argument("--respondent", required=True)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--cluster", type=int)
        source.add_argument("--accounts")
        parser.add_argument(
            "--clause", action="append", default=[], metavar="DOCUMENT:VERSION:PATH"
        )
        parser.add_argument("--owner", default="")

    def run(self, **options) -> None:
        owner = self._owner(options["owner"])
        clauses = [self._clause(spec) for spec in options["clause"]]
        try:
            with transaction.atomic():
                if options["cluster"] is not None:
                    cluster = (
                        Cluster.objects.select_related("run").filter(pk=options["cluster"]).first()
                    )
                    if cluster is None:
                        self.usage_error(f"--cluster: no cluster {options['cluster']}")
                    case = services.case_open_from_cluster(
                        actor=owner,
                        cluster=cluster,
                        reference=options["ref"],
                        title=options["title"],
                        respondent=options["respondent"],
                    )
                else:
                    case = services.case_open(
                        actor=owner,
                        reference=options["ref"],
                        title=options["title"],
                        respondent=options["respondent"],
                    )
                    services.case_accounts_attribute(
                        actor=owner,
                        case=case,
                        accounts=self._accounts(options["accounts"]),
                        basis="investigation",
                        detail="named on the command line",
                    )
                theory = self._theory(case)
                for clause in clauses:
                    services.allegation_add(actor=owner, case=case, clause=clause, theory=theory)
        except (services.CaseError, PermissionDenied) as exc:
            raise CheckFailed(str(exc)) from exc
        document = {
            "case": case.reference,
            "owner": owner.get_username(),
            "accounts": case.case_accounts.count(),
            "allegations": [
                f"{a.clause.version.document.slug}:{a.clause.version.label}:{a.clause.path}"
                for a in case.allegations.select_related("clause__version__document")
            ],
            "cluster": options["cluster"],
        }
        self.done(
            document,
            text=f"Opened {case.reference} with {document['accounts']} accounts and "
            f"{len(document['allegations'])} allegation(s); owner {document['owner']}.",
        )

    def _owner(self, name: str):
        users = get_user_model().objects.filter(is_active=True)
        name = name or getattr(settings, "PACTA_CASE_OWNER", "")
        if name:
            user = users.filter(username=name).first()
            if user is None:
                self.usage_error(f"--owner: no active user {name!r}")
            return user
        superusers = list(users.filter(is_superuser=True)[:2])
        if len(superusers) == 1:
            return superusers[0]
        self.usage_error("name the case owner with --owner USERNAME")

    def _accounts(self, value: str) -> list[Account]:
        ids = [x.strip() for x in value.split(",") if x.strip()]
        found = {a.account_id: a for a in Account.objects.filter(account_id__in=ids)}
        missing = [x for x in ids if x not in found]
        if not ids or missing:
            self.usage_error(
                f"--accounts: unknown account(s): {', '.join(missing) or '(none given)'}"
            )
        return list(found.values())

    def _clause(self, spec: str) -> Clause:
        try:
            document, version, path = spec.split(":", 2)
        except ValueError:
            raise UsageError(f"--clause {spec!r}: use DOCUMENT:VERSION:PATH") from None
        clause = Clause.objects.filter(
            version__document__slug=document, version__label=version, path=path
        ).first()
        if clause is None:
            self.usage_error(f"--clause {spec!r}: no such clause")
        return clause

    def _theory(self, case) -> str:
        """The conduct, from what detection found for the attributed accounts."""
        run = detection_run_latest()
        if run is None:
            return "Conduct of the attributed accounts as shown by their usage records."
        fired = Finding.objects.filter(
            run=run, fired=True, account__case_links__case=case
        ).values_list("detector", flat=True)
        counts: dict[str, int] = {}
        for detector in fired:
            counts[detector] = counts.get(detector, 0) + 1
        if not counts:
            return "Conduct of the attributed accounts as shown by their usage records."
        signals = "; ".join(
            f"{name.replace('_', ' ')} ({n} accounts)" for name, n in sorted(counts.items())
        )
        return (
            f"The {case.case_accounts.count()} attributed accounts, as found by detection run "
            f"{run.pk}: {signals}."
        )
