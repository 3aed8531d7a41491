"""Evidence of use: probe transcripts, canaries, their plan, serves and matches (issue #21).

Every table here is written once and never changed: the database refuses UPDATE, DELETE
and TRUNCATE of them (the refusal of migration 0008, for these tables), so a transcript,
a canary or a match cited in a report is still there, as it was, when it is questioned.
"""

import django.db.models.deletion
from django.db import migrations, models

# (table, trigger prefix, what the rows are)
GUARDED = (
    ("evidence_probeexchange", "probe_exchange", "probe transcripts"),
    ("evidence_canaryset", "canary_set", "canary sets"),
    ("evidence_canary", "canary", "canaries"),
    ("evidence_canaryassignment", "canary_assignment", "canary assignments"),
    ("evidence_canaryserve", "canary_serve", "canary serves"),
    ("evidence_canarymatch", "canary_match", "canary matches"),
)
GUARD = "".join(
    f"""
CREATE TRIGGER {prefix}_refuse_update_delete BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION pacta_evidence_refuse_change('{rows}');
CREATE TRIGGER {prefix}_refuse_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_evidence_refuse_change('{rows}');
"""
    for table, prefix, rows in GUARDED
)
UNGUARD = "".join(
    f"DROP TRIGGER IF EXISTS {prefix}_refuse_update_delete ON {table};\n"
    f"DROP TRIGGER IF EXISTS {prefix}_refuse_truncate ON {table};\n"
    for table, prefix, _ in GUARDED
)


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0111_confirmed_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="Canary",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("canary_id", models.CharField(max_length=40, unique=True)),
                ("text", models.TextField()),
                ("sha256", models.CharField(max_length=64)),
                ("normalised_sha256", models.CharField(max_length=64, unique=True)),
            ],
            options={
                "verbose_name_plural": "canaries",
                "ordering": ["canary_id"],
            },
        ),
        migrations.CreateModel(
            name="CanarySet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seed", models.BigIntegerField()),
                ("cluster_identity", models.CharField(blank=True, max_length=20)),
                ("cluster_run", models.BigIntegerField(blank=True, null=True)),
                (
                    "plan_sha256",
                    models.CharField(help_text="SHA-256 of the exported plan.", max_length=64),
                ),
                ("actor", models.CharField(max_length=150)),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
            },
        ),
        migrations.AlterField(
            model_name="ingestbatch",
            name="kind",
            field=models.CharField(
                choices=[
                    ("accounts", "Accounts"),
                    ("usage", "Usage events"),
                    ("assent", "Assent records"),
                    ("terms", "Terms"),
                    ("probes", "Probe transcripts"),
                    ("serves", "Canary serve log"),
                ],
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="CanaryAssignment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="evidence.account",
                    ),
                ),
                (
                    "canary",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assignments",
                        to="evidence.canary",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="canary",
            name="accounts",
            field=models.ManyToManyField(
                related_name="+", through="evidence.CanaryAssignment", to="evidence.account"
            ),
        ),
        migrations.CreateModel(
            name="CanaryServe",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("request_id", models.CharField(max_length=200)),
                ("served_at", models.DateTimeField()),
                ("content_sha256", models.CharField(max_length=64)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="evidence.account",
                    ),
                ),
                (
                    "batch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="serves",
                        to="evidence.ingestbatch",
                    ),
                ),
                (
                    "canary",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="serves",
                        to="evidence.canary",
                    ),
                ),
            ],
            options={
                "ordering": ["served_at", "pk"],
            },
        ),
        migrations.AddField(
            model_name="canary",
            name="canary_set",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="canaries",
                to="evidence.canaryset",
            ),
        ),
        migrations.CreateModel(
            name="ProbeExchange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("probe_id", models.CharField(max_length=200, unique=True)),
                (
                    "target",
                    models.CharField(
                        help_text="The model, endpoint or app probed.", max_length=200
                    ),
                ),
                ("target_version", models.CharField(blank=True, max_length=100)),
                ("endpoint", models.CharField(blank=True, max_length=500)),
                ("control", models.BooleanField(default=False)),
                ("collected_at", models.DateTimeField()),
                ("prompt", models.TextField()),
                ("prompt_sha256", models.CharField(max_length=64)),
                ("response", models.TextField()),
                (
                    "collector",
                    models.CharField(help_text="Who captured the exchange.", max_length=200),
                ),
                ("tool", models.CharField(blank=True, max_length=200)),
                ("tool_version", models.CharField(blank=True, max_length=100)),
                (
                    "raw_sha256",
                    models.CharField(
                        blank=True,
                        help_text="SHA-256 of the raw capture (HAR, screenshot).",
                        max_length=64,
                    ),
                ),
                ("content_sha256", models.CharField(max_length=64)),
                (
                    "batch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="probes",
                        to="evidence.ingestbatch",
                    ),
                ),
            ],
            options={
                "ordering": ["target", "collected_at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="CanaryMatch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("accounts", models.JSONField(help_text="Account ids the canary was served to.")),
                ("serves", models.PositiveIntegerField()),
                ("chance", models.FloatField()),
                ("method", models.CharField(max_length=40)),
                (
                    "quote",
                    models.TextField(
                        help_text="The passage of the response that holds the canary."
                    ),
                ),
                ("content_sha256", models.CharField(max_length=64)),
                ("actor", models.CharField(max_length=150)),
                ("matched_at", models.DateTimeField()),
                (
                    "canary",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="matches",
                        to="evidence.canary",
                    ),
                ),
                (
                    "exchange",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="canary_matches",
                        to="evidence.probeexchange",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "canary matches",
                "ordering": ["canary", "exchange"],
            },
        ),
        migrations.AddConstraint(
            model_name="canaryassignment",
            constraint=models.UniqueConstraint(
                fields=("canary", "account"), name="canary_assignment_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="canaryserve",
            constraint=models.UniqueConstraint(
                fields=("canary", "request_id"), name="canary_serve_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="probeexchange",
            index=models.Index(fields=["target", "control"], name="probe_target"),
        ),
        migrations.AddConstraint(
            model_name="canarymatch",
            constraint=models.UniqueConstraint(
                fields=("canary", "exchange"), name="canary_match_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="canarymatch",
            constraint=models.CheckConstraint(
                condition=models.Q(("chance__gte", 0), ("chance__lte", 1)),
                name="canary_match_chance_range",
            ),
        ),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
