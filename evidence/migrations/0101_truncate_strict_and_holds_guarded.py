"""The ledger's and custody records' TRUNCATE guard is the strict one; hold rows are guarded.

Migrations 0002 and 0004 let TRUNCATE of the ledger and of the custody records (purged-row
hashes, verification runs, timestamps) through whenever the session set
`pacta.allow_truncate`, which any client can do for itself. They now ask
`pacta_truncate_allowed()` (migration 0008), which also requires the database's own
setting, as the evidence tables already do.

A legal hold is the record that material was preserved, and when the preservation ended:
a hold row may only be released (its `released_at` set, once, nothing else changed). The
database refuses any other UPDATE, every DELETE, and TRUNCATE outside a throwaway database,
so a hold cannot be quietly lifted by deleting it or "un-released" after the fact.
"""

from django.db import migrations

STRICT = """
CREATE OR REPLACE FUNCTION pacta_ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND pacta_truncate_allowed() THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a new ledger entry instead of changing an old one.';
END;
$$;

CREATE OR REPLACE FUNCTION pacta_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND pacta_truncate_allowed() THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

# The definitions of migrations 0002 and 0004, for the way back.
LENIENT = """
CREATE OR REPLACE FUNCTION pacta_ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('pacta.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a new ledger entry instead of changing an old one.';
END;
$$;

CREATE OR REPLACE FUNCTION pacta_append_only() RETURNS trigger
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

HOLDS = """
CREATE FUNCTION pacta_hold_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF pacta_truncate_allowed() THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION 'evidence_preservationhold holds legal holds, which are the record '
            'of what was preserved: TRUNCATE is refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'evidence_preservationhold: hold % (%) is the record of a legal hold: '
            'DELETE is refused', OLD.id, OLD.reference
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Release the hold instead: the release is kept with it.';
    END IF;
    IF OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
       AND (to_jsonb(NEW) - 'released_at') = (to_jsonb(OLD) - 'released_at') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'evidence_preservationhold: hold % (%) may only be released, once: '
        'this UPDATE is refused', OLD.id, OLD.reference
        USING ERRCODE = 'insufficient_privilege',
              HINT = CASE WHEN OLD.released_at IS NOT NULL
                  THEN 'A released hold stays released; place a new hold instead.'
                  ELSE 'Only released_at may change, from empty to the time of release.' END;
END;
$$;
CREATE TRIGGER hold_refuse_change BEFORE UPDATE OR DELETE ON evidence_preservationhold
    FOR EACH ROW EXECUTE FUNCTION pacta_hold_refuse_change();
CREATE TRIGGER hold_refuse_truncate BEFORE TRUNCATE ON evidence_preservationhold
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_hold_refuse_change();
"""

UNHOLDS = """
DROP TRIGGER IF EXISTS hold_refuse_change ON evidence_preservationhold;
DROP TRIGGER IF EXISTS hold_refuse_truncate ON evidence_preservationhold;
DROP FUNCTION IF EXISTS pacta_hold_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("evidence", "0100_account_version")]

    operations = [migrations.RunSQL(STRICT, LENIENT), migrations.RunSQL(HOLDS, UNHOLDS)]
