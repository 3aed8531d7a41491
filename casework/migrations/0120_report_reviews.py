"""Review and sign-off of reports (issue #18): a report job is a draft or the final report
built from an approved draft; reviews are the reviewers' decisions, as given, and the
database refuses to change or delete them (the refusal of evidence migration 0008); a
case may name the declarant of its final reports."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


GUARD = """
CREATE TRIGGER report_review_refuse_update_delete
    BEFORE UPDATE OR DELETE ON casework_reportreview
    FOR EACH ROW EXECUTE FUNCTION pacta_evidence_refuse_change('report reviews');
CREATE TRIGGER report_review_refuse_truncate BEFORE TRUNCATE ON casework_reportreview
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_evidence_refuse_change('report reviews');
"""
UNGUARD = """
DROP TRIGGER IF EXISTS report_review_refuse_update_delete ON casework_reportreview;
DROP TRIGGER IF EXISTS report_review_refuse_truncate ON casework_reportreview;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0112_production_retention"),
        ("evidence", "0120_probes_and_canaries"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name="case",
                name=f"declarant_{field}",
                field=models.CharField(blank=True, max_length=200),
            )
            for field in ("name", "title", "organisation", "place")
        ),
        migrations.CreateModel(
            name="ReportReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[("counsel", "Counsel"), ("expert", "Expert")], max_length=10
                    ),
                ),
                (
                    "scope",
                    models.CharField(
                        choices=[
                            ("whole", "The whole report"),
                            ("methods", "The methods sections"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "decision",
                    models.CharField(
                        choices=[("approve", "Approved"), ("reject", "Rejected")], max_length=10
                    ),
                ),
                ("comment", models.TextField(blank=True)),
                ("at", models.DateTimeField()),
            ],
            options={
                "ordering": ["job", "at", "pk"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="reportjob",
            name="report_job_one_per_snapshot",
        ),
        migrations.AddField(
            model_name="reportjob",
            name="draft",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="final_job",
                to="casework.reportjob",
            ),
        ),
        migrations.AddField(
            model_name="reportjob",
            name="final",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="casemembership",
            name="role",
            field=models.CharField(
                choices=[
                    ("owner", "Owner"),
                    ("counsel", "Counsel"),
                    ("investigator", "Investigator"),
                    ("expert", "Expert"),
                    ("viewer", "Viewer"),
                    ("external_reviewer", "External reviewer"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="reportjob",
            constraint=models.UniqueConstraint(
                fields=("case", "edition", "snapshot_sha256", "final"),
                name="report_job_one_per_snapshot",
            ),
        ),
        migrations.AddConstraint(
            model_name="reportjob",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("draft__isnull", True), ("final", False)),
                    models.Q(("draft__isnull", False), ("final", True)),
                    _connector="OR",
                ),
                name="report_job_final_has_draft",
            ),
        ),
        migrations.AddField(
            model_name="reportreview",
            name="job",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reviews",
                to="casework.reportjob",
            ),
        ),
        migrations.AddField(
            model_name="reportreview",
            name="reviewer",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="reportreview",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("role", "counsel"), ("scope", "whole")),
                    models.Q(("role", "expert"), ("scope", "methods")),
                    _connector="OR",
                ),
                name="report_review_role_scope",
            ),
        ),
        migrations.AddConstraint(
            model_name="reportreview",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("decision", "approve"),
                    models.Q(("comment", ""), _negated=True),
                    _connector="OR",
                ),
                name="report_review_reject_says_why",
            ),
        ),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
