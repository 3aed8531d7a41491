"""Usage rows keep their batch without a per-row foreign-key check.

The FK Django made was DEFERRABLE INITIALLY DEFERRED: PostgreSQL queued one check for
every row loaded and ran them all at COMMIT, serially, after the COPY had finished (a
million checks for a million-row file, and backend memory growing with the file). What the
FK protected is kept in cheaper forms:

- a batch is created by ingest in the same transaction before any of its rows;
- deleting a batch that still has usage rows is refused here, from any client, as the FK
  refused it;
- verification (`evidence.integrity.usage_verify`) reports rows whose batch is not on
  record.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
CREATE FUNCTION pacta_refuse_batch_with_rows_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM evidence_usageevent WHERE batch_id = OLD.id) THEN
        RAISE EXCEPTION 'ingest batch % still has usage rows: deletion refused', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER ingest_batch_refuse_delete_with_rows BEFORE DELETE ON evidence_ingestbatch
    FOR EACH ROW EXECUTE FUNCTION pacta_refuse_batch_with_rows_delete();
"""
REVERSE = """
DROP TRIGGER IF EXISTS ingest_batch_refuse_delete_with_rows ON evidence_ingestbatch;
DROP FUNCTION IF EXISTS pacta_refuse_batch_with_rows_delete();
"""


class Migration(migrations.Migration):
    dependencies = [("evidence", "0005_detection")]

    operations = [
        migrations.AlterField(
            model_name="usageevent",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="usage_events",
                to="evidence.ingestbatch",
            ),
        ),
        migrations.RunSQL(FORWARD, REVERSE),
    ]
