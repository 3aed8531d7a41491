"""Indexes on addresses, so that search by address (casework.search) reads an index, not
the whole usage log (issue #20).

The usage index is created with IF NOT EXISTS: a plain CREATE INDEX blocks writes to the
usage table while it builds, so a deployment with a large log builds it first, without
the lock, by hand:
`CREATE INDEX CONCURRENTLY IF NOT EXISTS usage_source_ip ON evidence_usageevent (source_ip);`
and this migration then only records it. The three other tables are small.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0181_work_progress"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["signup_ip"], name="account_signup_ip"),
        ),
        migrations.AddIndex(
            model_name="accountversion",
            index=models.Index(fields=["signup_ip"], name="account_version_signup_ip"),
        ),
        migrations.AddIndex(
            model_name="assentrecord",
            index=models.Index(fields=["ip"], name="assent_ip"),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "CREATE INDEX IF NOT EXISTS usage_source_ip "
                    "ON evidence_usageevent (source_ip)",
                    reverse_sql="DROP INDEX IF EXISTS usage_source_ip",
                ),
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="usageevent",
                    index=models.Index(fields=["source_ip"], name="usage_source_ip"),
                ),
            ],
        ),
    ]
