"""Indicator exchange (issue #22): sharing partners and their keys, each bundle shared or
received, and the accounts a partner's indicators matched."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0080_enforcement_actions"),
        ("evidence", "0111_confirmed_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="SharingPartner",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                ("sharing_key", models.CharField(max_length=64)),
                ("key_id", models.CharField(max_length=16)),
                ("created_by_label", models.CharField(max_length=150)),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("sharing_key__regex", "^[0-9a-f]{64}$")),
                        name="sharing_key_256_bit_hex",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="IndicatorExchange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "direction",
                    models.CharField(
                        choices=[
                            ("export", "Shared with the partner"),
                            ("import", "Received from the partner"),
                        ],
                        max_length=6,
                    ),
                ),
                ("tlp", models.CharField(blank=True, max_length=10)),
                ("file_name", models.CharField(max_length=500)),
                ("bundle_sha256", models.CharField(max_length=64)),
                ("bundle", models.TextField()),
                ("counts", models.JSONField(blank=True, default=dict)),
                ("actor_label", models.CharField(max_length=150)),
                ("exchanged_at", models.DateTimeField()),
                (
                    "cluster",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="evidence.cluster",
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="exchanges",
                        to="casework.sharingpartner",
                    ),
                ),
            ],
            options={
                "ordering": ["-exchanged_at"],
            },
        ),
        migrations.CreateModel(
            name="IndicatorMatch",
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
                            ("email", "Email address (keyed hash)"),
                            ("payment", "Payment fingerprint (keyed hash)"),
                            ("request_shape", "Request shape (keyed hash)"),
                            ("address_range", "Address range"),
                        ],
                        max_length=16,
                    ),
                ),
                ("indicator_id", models.CharField(max_length=100)),
                ("value", models.CharField(max_length=100)),
                ("matched_at", models.DateTimeField()),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="indicator_matches",
                        to="evidence.account",
                    ),
                ),
                (
                    "exchange",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="matches",
                        to="casework.indicatorexchange",
                    ),
                ),
            ],
            options={
                "ordering": ["exchange", "account", "kind"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("exchange", "account", "indicator_id"),
                        name="indicator_match_unique",
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="indicatorexchange",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("direction", "import"), ("cluster__isnull", False), _connector="OR"
                ),
                name="indicator_export_has_cluster",
            ),
        ),
    ]
