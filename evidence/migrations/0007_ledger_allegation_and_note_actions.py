"""Allegations and notes get ledger actions of their own ("alleged", "noted"); entries
already written keep "created" and are read by their details (`evidence.custody.events`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0006_usage_batch_without_row_checks"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("collected", "Collected"),
                    ("ingested", "Ingested"),
                    ("imported", "Imported"),
                    ("detected", "Detected"),
                    ("linked", "Linked"),
                    ("created", "Created"),
                    ("alleged", "Allegation added"),
                    ("noted", "Note added"),
                    ("changed", "Changed"),
                    ("viewed", "Viewed"),
                    ("exported", "Exported"),
                    ("verified", "Verified"),
                    ("held", "Placed on legal hold"),
                    ("released", "Released from legal hold"),
                    ("purged", "Purged under retention"),
                    ("timestamped", "Timestamped"),
                ],
                max_length=20,
            ),
        ),
    ]
