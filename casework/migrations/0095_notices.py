"""Notices to the respondent (issue #22): breach, termination, cease-and-desist and
preservation letters, their signed PDF, delivery and deadline."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0090_production_jobs"),
        ("evidence", "0111_confirmed_labels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Notice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("breach", "Notice of breach"),
                            ("termination", "Notice of termination"),
                            ("cease_and_desist", "Cease-and-desist letter"),
                            ("preservation", "Preservation (litigation hold) letter"),
                        ],
                        max_length=20,
                    ),
                ),
                ("recipient", models.EmailField(max_length=254)),
                ("respondent", models.CharField(max_length=300)),
                ("cure_days", models.PositiveSmallIntegerField(blank=True, null=True)),
                (
                    "deadline_kind",
                    models.CharField(
                        blank=True,
                        choices=[("cure", "Cure period ends"), ("response", "Response due")],
                        max_length=10,
                    ),
                ),
                ("deadline_at", models.DateTimeField(blank=True, null=True)),
                ("issued_by_label", models.CharField(max_length=150)),
                ("issued_at", models.DateTimeField()),
                (
                    "delivery",
                    models.CharField(
                        choices=[
                            ("pending", "Not sent yet"),
                            ("sent", "Handed to the mail server"),
                            ("failed", "Sending failed"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("delivery_backend", models.CharField(blank=True, max_length=200)),
                ("delivered_at", models.DateTimeField(blank=True, null=True)),
                ("delivery_error", models.TextField(blank=True)),
                ("message_id", models.CharField(blank=True, max_length=300)),
                ("reminded_at", models.DateTimeField(blank=True, null=True)),
                (
                    "actions",
                    models.ManyToManyField(
                        blank=True, related_name="notices", to="casework.enforcementaction"
                    ),
                ),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="notices",
                        to="casework.case",
                    ),
                ),
                (
                    "clauses",
                    models.ManyToManyField(blank=True, related_name="+", to="evidence.clause"),
                ),
                (
                    "issued_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "pdf",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="evidence.evidenceitem",
                    ),
                ),
            ],
            options={
                "ordering": ["case", "issued_at", "pk"],
                "indexes": [
                    models.Index(
                        condition=models.Q(
                            ("deadline_at__isnull", False), ("reminded_at__isnull", True)
                        ),
                        fields=["deadline_at"],
                        name="notice_deadline_unreminded",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("deadline_kind", ""), ("deadline_at__isnull", True)),
                            models.Q(
                                models.Q(("deadline_kind", ""), _negated=True),
                                ("deadline_at__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="notice_deadline_has_kind_and_time",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("kind", "breach"), ("cure_days__isnull", True), _connector="OR"
                        ),
                        name="notice_cure_period_on_breach_only",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("delivery", "sent"), _negated=True),
                            ("delivered_at__isnull", False),
                            _connector="OR",
                        ),
                        name="notice_sent_has_time",
                    ),
                ],
            },
        ),
    ]
