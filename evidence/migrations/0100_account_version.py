"""Every version of an account's profile is kept, append-only.

Until now a changed profile overwrote the account row and only the previous content hash
went into the batch's ledger entry (capped at 1,000 accounts). From here each profile an
accounts file records is a row of `evidence_accountversion`, which the database refuses
to change, delete or truncate (the refusal of migration 0008, for one more table).

Profiles recorded before this migration are kept as version 1 with their batch: earlier
versions were never stored, so none can be recovered. Their batches' ledger entries do
not say how many versions they recorded, which is how verification tells them apart and
counts them as checked against their own hash only.
"""

import django.db.models.deletion
from django.db import migrations, models

PROFILE = (
    "org_name, email, created_at, country, billing_country, payment_fingerprint, signup_ip, "
    "signup_user_agent, plan, status, reseller"
)
BACKFILL = f"""
INSERT INTO evidence_accountversion (account_id, version, {PROFILE}, content_sha256, batch_id,
                                     recorded_at)
SELECT id, 1, {PROFILE}, content_sha256, batch_id, recorded_at
FROM evidence_account WHERE NOT seen_only_in_usage ORDER BY id;
"""
GUARD = """
CREATE TRIGGER account_version_refuse_update_delete
    BEFORE UPDATE OR DELETE ON evidence_accountversion
    FOR EACH ROW EXECUTE FUNCTION pacta_evidence_refuse_change('account profile versions');
CREATE TRIGGER account_version_refuse_truncate BEFORE TRUNCATE ON evidence_accountversion
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_evidence_refuse_change('account profile versions');
"""
UNGUARD = """
DROP TRIGGER IF EXISTS account_version_refuse_update_delete ON evidence_accountversion;
DROP TRIGGER IF EXISTS account_version_refuse_truncate ON evidence_accountversion;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0008_evidence_rows_refuse_edits"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "version",
                    models.PositiveIntegerField(
                        help_text="1 for the first profile, then 2, 3, ..."
                    ),
                ),
                ("org_name", models.CharField(blank=True, max_length=300)),
                ("email", models.CharField(blank=True, max_length=320)),
                ("created_at", models.DateTimeField(blank=True, null=True)),
                ("country", models.CharField(blank=True, max_length=2)),
                ("billing_country", models.CharField(blank=True, max_length=2)),
                ("payment_fingerprint", models.CharField(blank=True, max_length=200)),
                ("signup_ip", models.GenericIPAddressField(blank=True, null=True)),
                ("signup_user_agent", models.TextField(blank=True)),
                ("plan", models.CharField(blank=True, max_length=50)),
                ("status", models.CharField(blank=True, max_length=50)),
                ("reseller", models.BooleanField(default=False)),
                ("content_sha256", models.CharField(max_length=64)),
                ("recorded_at", models.DateTimeField()),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="versions",
                        to="evidence.account",
                    ),
                ),
                (
                    "batch",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="account_versions",
                        to="evidence.ingestbatch",
                    ),
                ),
            ],
            options={
                "ordering": ["account", "version"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "version"), name="account_version_unique"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("version__gte", 1)), name="account_version_positive"
                    ),
                ],
            },
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
