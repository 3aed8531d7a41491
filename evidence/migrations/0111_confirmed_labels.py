"""Investigator-confirmed labels: an account confirmed benign or abusive, with the reason.

Each row is a verdict as given; a change of mind is a new row. The database refuses to
change, delete or truncate them (the refusal of migration 0008, for one more table), so
the labels a detection run measured its error rates on are still there, as they were,
when the run is questioned.
"""

import django.db.models.deletion
from django.db import migrations, models

GUARD = """
CREATE TRIGGER confirmed_label_refuse_update_delete
    BEFORE UPDATE OR DELETE ON evidence_confirmedlabel
    FOR EACH ROW EXECUTE FUNCTION pacta_evidence_refuse_change('investigator-confirmed labels');
CREATE TRIGGER confirmed_label_refuse_truncate BEFORE TRUNCATE ON evidence_confirmedlabel
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_evidence_refuse_change('investigator-confirmed labels');
"""
UNGUARD = """
DROP TRIGGER IF EXISTS confirmed_label_refuse_update_delete ON evidence_confirmedlabel;
DROP TRIGGER IF EXISTS confirmed_label_refuse_truncate ON evidence_confirmedlabel;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0110_cluster_identity"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConfirmedLabel",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "verdict",
                    models.CharField(
                        choices=[
                            ("confirmed_benign", "Confirmed benign"),
                            ("confirmed_abusive", "Confirmed abusive"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "reason",
                    models.TextField(help_text="Why the investigator is sure: what was checked."),
                ),
                ("actor", models.CharField(max_length=150)),
                ("actor_user_id", models.BigIntegerField(blank=True, null=True)),
                ("created_at", models.DateTimeField()),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="confirmed_labels",
                        to="evidence.account",
                    ),
                ),
            ],
            options={
                "ordering": ["account", "created_at", "pk"],
                "indexes": [
                    models.Index(
                        fields=["account", "-created_at", "-id"], name="confirmed_label_latest"
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("verdict__in", ["confirmed_benign", "confirmed_abusive"])
                        ),
                        name="confirmed_label_verdict_known",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("reason__regex", "\\S")),
                        name="confirmed_label_reason_given",
                    ),
                ],
            },
        ),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
