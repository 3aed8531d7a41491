"""Enforcement actions on a case (issue #22): the action, its targets and state, and each
hand-off of a transition to the platform with its idempotency key."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0010_case_cluster_identity"),
        ("evidence", "0111_confirmed_labels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="EnforcementAction",
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
                            ("warn", "Warning"),
                            ("rate_limit", "Rate limit"),
                            ("require_verification", "Require verification"),
                            ("suspend", "Suspension"),
                            ("terminate", "Termination"),
                            ("revoke_keys", "Revocation of API keys"),
                            ("block_payment", "Block of a payment method"),
                            ("block_range", "Block of an address range"),
                        ],
                        max_length=24,
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("proposed", "Proposed"),
                            ("approved", "Approved"),
                            ("sent", "Sent to the platform"),
                            ("confirmed", "Confirmed by the platform"),
                            ("reversed", "Reversed"),
                        ],
                        default="proposed",
                        max_length=10,
                    ),
                ),
                (
                    "reason",
                    models.TextField(help_text="Why this action, on this clause, in plain words."),
                ),
                ("key_ids", models.JSONField(blank=True, default=list)),
                ("payment_fingerprints", models.JSONField(blank=True, default=list)),
                ("address_ranges", models.JSONField(blank=True, default=list)),
                ("effective_at", models.DateTimeField()),
                ("proposed_by_label", models.CharField(max_length=150)),
                ("proposed_at", models.DateTimeField()),
                ("approved_by_label", models.CharField(blank=True, max_length=150)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("sent_via", models.CharField(blank=True, max_length=10)),
                ("confirmed_at", models.DateTimeField(blank=True, null=True)),
                ("platform_reference", models.CharField(blank=True, max_length=200)),
                ("reversed_by_label", models.CharField(blank=True, max_length=150)),
                ("reversed_at", models.DateTimeField(blank=True, null=True)),
                ("reversal_reason", models.TextField(blank=True)),
                (
                    "accounts",
                    models.ManyToManyField(
                        blank=True, related_name="enforcement_actions", to="evidence.account"
                    ),
                ),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="enforcement_actions",
                        to="casework.case",
                    ),
                ),
                (
                    "clause",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="evidence.clause",
                    ),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["case", "proposed_at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="ActionHandoff",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "transition",
                    models.CharField(
                        choices=[("send", "Carry out"), ("reverse", "Undo")], max_length=10
                    ),
                ),
                ("idempotency_key", models.CharField(max_length=100, unique=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("confirmed", "Confirmed"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("last_status_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("body_sha256", models.CharField(blank=True, max_length=64)),
                ("confirmation", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField()),
                ("confirmed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "action",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="handoffs",
                        to="casework.enforcementaction",
                    ),
                ),
            ],
            options={
                "ordering": ["action", "created_at"],
            },
        ),
        migrations.AddConstraint(
            model_name="enforcementaction",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("state", "proposed"), ("approved_at__isnull", False), _connector="OR"
                ),
                name="enforcement_action_approved_has_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="enforcementaction",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state__in", ["sent", "confirmed"]), _negated=True),
                    ("sent_at__isnull", False),
                    _connector="OR",
                ),
                name="enforcement_action_sent_has_time",
            ),
        ),
        migrations.AddConstraint(
            model_name="enforcementaction",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "reversed"), _negated=True),
                    models.Q(
                        ("reversed_at__isnull", False),
                        models.Q(("reversal_reason", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="enforcement_action_reversal_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="enforcementaction",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("kind__in", ["terminate", "block_payment", "block_range"]), _negated=True
                    ),
                    ("approved_by__isnull", True),
                    models.Q(("approved_by", models.F("proposed_by")), _negated=True),
                    _connector="OR",
                ),
                name="enforcement_action_second_approver",
            ),
        ),
        migrations.AddConstraint(
            model_name="actionhandoff",
            constraint=models.UniqueConstraint(
                fields=("action", "transition"), name="action_handoff_one_per_transition"
            ),
        ),
    ]
