"""Pseudonym keys: one secret per case and edition, kept so rebuilt reports name every
account as before (issue #18). The rows are append-only: the database refuses UPDATE and
DELETE, and TRUNCATE outside a throwaway database (`pacta_append_only`, evidence 0101)."""

import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models


APPEND_ONLY = """
CREATE TRIGGER pseudonym_key_append_only BEFORE UPDATE OR DELETE ON casework_pseudonymkey
    FOR EACH ROW EXECUTE FUNCTION pacta_append_only();
CREATE TRIGGER pseudonym_key_no_truncate BEFORE TRUNCATE ON casework_pseudonymkey
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_append_only();
"""
UNDO = """
DROP TRIGGER IF EXISTS pseudonym_key_append_only ON casework_pseudonymkey;
DROP TRIGGER IF EXISTS pseudonym_key_no_truncate ON casework_pseudonymkey;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0095_notices"),
        ("evidence", "0101_truncate_strict_and_holds_guarded"),
    ]

    operations = [
        migrations.CreateModel(
            name="PseudonymKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "edition",
                    models.CharField(
                        choices=[
                            ("counsel", "Counsel"),
                            ("regulator", "Regulator"),
                            ("public", "Public record"),
                        ],
                        max_length=10,
                    ),
                ),
                ("secret", models.BinaryField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="casework.case",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("case", "edition"), name="pseudonym_key_one_per_edition"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            django.db.models.lookups.Exact(
                                django.db.models.functions.text.Length("secret"), 32
                            )
                        ),
                        name="pseudonym_key_secret_32_bytes",
                    ),
                ],
            },
        ),
        migrations.RunSQL(APPEND_ONLY, UNDO),
    ]
