"""The database refuses to edit or remove evidence rows, from any client.

Usage events, assent records, ingest batches and evidence files are written once and never
changed by the app, so any UPDATE of them is refused, and DELETE too except on the one path
the app has for each: the retention purge removes usage rows (leaving their hashes in
`PurgedUsageRow`) and `evidence_item_delete` removes a file no hold protects. Each marks
itself with the transaction-local setting `pacta.maintenance`; held rows stay refused even
then (the held-delete triggers of migration 0004 fire on every DELETE).

Account profiles are still updated by ingest (a later accounts file fills in a stub or
changes a profile), so only what no ingest does is refused: changing an account held by an
active legal hold, changing the `account_id` usage rows name it by, and deleting an
account that is held or has usage rows.

TRUNCATE of these five tables is refused unless the database itself, not merely the
session, has `pacta.allow_truncate` on (the throwaway test and benchmark databases, which
are emptied between runs): a session could set the setting, but altering a database's
settings takes the same deliberate DDL rights as dropping a trigger.

PostgreSQL fires triggers on the same event in name order; these are named to fire after
the more specific refusals of migrations 0004 and 0006 (a legal hold, a batch that still
has rows), so a reader sees that reason first.
"""

from django.db import migrations

TRUNCATE_ALLOWED = """
CREATE FUNCTION pacta_truncate_allowed() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('pacta.allow_truncate', true), '') = 'on'
       AND EXISTS (
           SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
           WHERE d.datname = current_database() AND s.setrole = 0
             AND 'pacta.allow_truncate=on' = ANY (s.setconfig)
       )
$$;
"""

# TG_ARGV[0] says what the rows are, for the message; TG_ARGV[1], when given, names the one
# maintenance path whose DELETEs pass.
EVIDENCE_ROWS = """
CREATE FUNCTION pacta_evidence_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF pacta_truncate_allowed() THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION '% holds %, which are evidence: TRUNCATE is refused',
            TG_TABLE_NAME, TG_ARGV[0]
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' AND TG_NARGS > 1
       AND current_setting('pacta.maintenance', true) = TG_ARGV[1] THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% holds %, which are evidence and never changed: % of row % is refused',
        TG_TABLE_NAME, TG_ARGV[0], TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege',
              HINT = CASE WHEN TG_NARGS > 1
                  THEN format('Only the app''s %s removes these rows.', TG_ARGV[1])
                  ELSE 'Record a new row, with its ledger entry, instead.' END;
END;
$$;
"""

# (table, trigger prefix, what the rows are, the maintenance path that may delete them)
GUARDED = (
    ("evidence_usageevent", "usage", "usage events", "retention_purge"),
    ("evidence_assentrecord", "assent", "assent records", None),
    ("evidence_ingestbatch", "ingest_batch", "ingest batches", None),
    ("evidence_evidenceitem", "evidence_item", "evidence files", "evidence_item_delete"),
)


def _guard(table: str, prefix: str, rows: str, path: str | None) -> str:
    arguments = f"'{rows}'" + (f", '{path}'" if path else "")
    return f"""
CREATE TRIGGER {prefix}_refuse_update_delete BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION pacta_evidence_refuse_change({arguments});
CREATE TRIGGER {prefix}_refuse_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_evidence_refuse_change({arguments});
"""


ACCOUNTS = """
CREATE FUNCTION pacta_account_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF pacta_truncate_allowed() THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'evidence_account holds account profiles, which are evidence: '
            'TRUNCATE is refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (
        SELECT 1 FROM evidence_preservationhold h
        WHERE h.account_id = OLD.id AND h.released_at IS NULL
    ) THEN
        RAISE EXCEPTION 'evidence_account: account % is preserved under a legal hold: '
            '% is refused', OLD.account_id, TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Release the hold first; its case records why.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM evidence_usageevent u WHERE u.account_id = OLD.account_id) THEN
            RAISE EXCEPTION 'evidence_account: account % has usage rows: DELETE is refused',
                OLD.account_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF NEW.account_id IS DISTINCT FROM OLD.account_id THEN
        RAISE EXCEPTION 'evidence_account: account % is named by usage and assent records '
            'by its account_id: changing it to % is refused', OLD.account_id, NEW.account_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER account_refuse_change BEFORE UPDATE OR DELETE ON evidence_account
    FOR EACH ROW EXECUTE FUNCTION pacta_account_refuse_change();
CREATE TRIGGER account_refuse_truncate BEFORE TRUNCATE ON evidence_account
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_account_refuse_change();
"""

FORWARD = TRUNCATE_ALLOWED + EVIDENCE_ROWS + "".join(_guard(*g) for g in GUARDED) + ACCOUNTS
REVERSE = (
    "".join(
        f"DROP TRIGGER IF EXISTS {prefix}_refuse_update_delete ON {table};\n"
        f"DROP TRIGGER IF EXISTS {prefix}_refuse_truncate ON {table};\n"
        for table, prefix, _, _ in GUARDED
    )
    + "DROP TRIGGER IF EXISTS account_refuse_change ON evidence_account;\n"
    + "DROP TRIGGER IF EXISTS account_refuse_truncate ON evidence_account;\n"
    + "DROP FUNCTION IF EXISTS pacta_account_refuse_change();\n"
    + "DROP FUNCTION IF EXISTS pacta_evidence_refuse_change();\n"
    + "DROP FUNCTION IF EXISTS pacta_truncate_allowed();\n"
)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0007_ledger_allegation_and_note_actions")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
