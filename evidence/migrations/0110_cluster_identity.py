"""Clusters get an identity that survives re-running detection ("C-0007").

Existing clusters each get their own identity, numbered in the order they were stored, and
the sequence continues from there. Cluster rows refuse UPDATE (0005): the trigger is set
aside for the one backfill statement, inside this migration's transaction, and restored.
"""

from django.db import migrations, models

BACKFILL = """
CREATE SEQUENCE evidence_cluster_identity_seq START 1;
ALTER TABLE evidence_cluster DISABLE TRIGGER evidence_cluster_refuse_update;
UPDATE evidence_cluster c SET identity = 'C-' || lpad(s.n::text, 4, '0')
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM evidence_cluster) s
WHERE c.id = s.id;
ALTER TABLE evidence_cluster ENABLE TRIGGER evidence_cluster_refuse_update;
SELECT setval('evidence_cluster_identity_seq', count(*) + 1, false) FROM evidence_cluster;
"""
UNBACKFILL = "DROP SEQUENCE IF EXISTS evidence_cluster_identity_seq;"


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0101_truncate_strict_and_holds_guarded"),
    ]

    operations = [
        migrations.AddField(
            model_name="cluster",
            name="identity",
            field=models.CharField(max_length=20, null=True),
        ),
        migrations.RunSQL(BACKFILL, UNBACKFILL),
        migrations.AlterField(
            model_name="cluster",
            name="identity",
            field=models.CharField(db_index=True, max_length=20),
        ),
        migrations.AddConstraint(
            model_name="cluster",
            constraint=models.UniqueConstraint(
                fields=("run", "identity"), name="cluster_identity_per_run"
            ),
        ),
    ]
