"""A case opened from a detected cluster records that cluster (and so its run and identity)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("casework", "0006_case_snapshot"),
        ("evidence", "0110_cluster_identity"),
    ]

    operations = [
        migrations.AddField(
            model_name="case",
            name="source_cluster",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="evidence.cluster",
            ),
        ),
    ]
