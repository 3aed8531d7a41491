"""Custody records are append-only, and held material cannot be deleted, in the database.

Purged-row hashes, verification runs and trusted timestamps are evidence about the
evidence: like the ledger, nobody may quietly rewrite them. Usage events and evidence
files under an active legal hold refuse DELETE from any client, not only from the app.
"""

from django.db import migrations

TABLES = ("evidence_purgedusagerow", "evidence_verificationrun", "evidence_trustedtimestamp")

FUNCTION = """
CREATE FUNCTION pacta_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('pacta.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def _triggers(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION pacta_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_append_only();
"""


HOLDS = """
CREATE FUNCTION pacta_refuse_held_usage_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM evidence_preservationhold h
        JOIN evidence_account a ON a.id = h.account_id
        WHERE h.released_at IS NULL AND a.account_id = OLD.account_id
          AND (h.window_start IS NULL OR OLD.ts >= h.window_start)
          AND (h.window_end IS NULL OR OLD.ts <= h.window_end)
    ) THEN
        RAISE EXCEPTION 'usage event % is preserved under a legal hold: deletion refused',
            OLD.request_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER usage_refuse_held_delete BEFORE DELETE ON evidence_usageevent
    FOR EACH ROW EXECUTE FUNCTION pacta_refuse_held_usage_delete();

CREATE FUNCTION pacta_refuse_held_file_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM evidence_preservationhold h
        WHERE h.released_at IS NULL AND h.evidence_item_id = OLD.id
    ) THEN
        RAISE EXCEPTION 'evidence file % is preserved under a legal hold: deletion refused',
            OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER evidence_item_refuse_held_delete BEFORE DELETE ON evidence_evidenceitem
    FOR EACH ROW EXECUTE FUNCTION pacta_refuse_held_file_delete();
"""

FORWARD = FUNCTION + "".join(_triggers(t) for t in TABLES) + HOLDS
REVERSE = "".join(
    f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}; DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};"
    for t in TABLES
) + (
    "DROP FUNCTION IF EXISTS pacta_append_only();"
    "DROP TRIGGER IF EXISTS usage_refuse_held_delete ON evidence_usageevent;"
    "DROP FUNCTION IF EXISTS pacta_refuse_held_usage_delete();"
    "DROP TRIGGER IF EXISTS evidence_item_refuse_held_delete ON evidence_evidenceitem;"
    "DROP FUNCTION IF EXISTS pacta_refuse_held_file_delete();"
)


class Migration(migrations.Migration):
    dependencies = [("evidence", "0003_custody")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
