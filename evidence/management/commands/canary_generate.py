"""`python manage.py canary_generate --count N --out PLAN.json (--cluster C-xxxx |
--accounts ID,ID,...) [--seed S] [--json]`: a canary set and its serving plan.

The plan (JSON, for the provider's gateway) is written to `--out` and kept as evidence;
the canaries are stored and assigned, one account each, in turn.
"""

from __future__ import annotations

from pathlib import Path

from evidence.management.base import PactaCommand
from evidence.models import Account, Cluster
from evidence.probes.canaries import CanaryPlanError, canaries_generate


class Command(PactaCommand):
    help = "Generate canaries for suspect accounts and export the serving plan."

    def arguments(self, parser) -> None:
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--out", required=True, metavar="PLAN.json")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--cluster", metavar="C-xxxx")
        group.add_argument("--accounts", metavar="ID,ID,...")
        parser.add_argument("--seed", type=int, help="Default: drawn at random, and recorded.")

    def run(self, *, count, out, cluster, accounts, seed, **options) -> None:
        out_path = Path(out)
        if not out_path.parent.is_dir():
            self.usage_error(f"--out {out}: no such folder {out_path.parent}")
        found_cluster = None
        if cluster:
            found_cluster = Cluster.objects.filter(identity=cluster).order_by("-run_id").first()
            if found_cluster is None:
                self.usage_error(f"--cluster {cluster}: no such cluster")
            members = list(found_cluster.members.all())
        else:
            wanted = [a.strip() for a in accounts.split(",") if a.strip()]
            members = list(Account.objects.filter(account_id__in=wanted))
            missing = sorted(set(wanted) - {a.account_id for a in members})
            if missing:
                self.usage_error(f"--accounts: no account {', '.join(missing)}")
        try:
            plan = canaries_generate(
                actor="system:cli", count=count, accounts=members, cluster=found_cluster, seed=seed
            )
        except CanaryPlanError as exc:
            self.usage_error(f"{exc.field}: {exc}")
        out_path.write_bytes(plan.plan)
        canary_set = plan.canary_set
        self.done(
            {
                "canary_set": canary_set.pk,
                "canaries": len(plan.canaries),
                "accounts": len(members),
                "cluster": canary_set.cluster_identity or None,
                "seed": canary_set.seed,
                "plan": str(out_path),
                "plan_sha256": canary_set.plan_sha256,
                "plan_item": plan.plan_item.pk,
            },
            text=(
                f"Canary set {canary_set.pk}: {len(plan.canaries)} canaries for "
                f"{len(members)} account(s); plan written to {out_path} "
                f"(sha256 {canary_set.plan_sha256}, kept as evidence item {plan.plan_item.pk})"
            ),
        )
