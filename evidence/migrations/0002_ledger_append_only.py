"""The database itself refuses to change or remove ledger entries.

An application-level rule could be bypassed by any script with a connection; a trigger
holds for every client, so altering the chain of custody needs a deliberate DDL step
(dropping the trigger), which is itself outside any normal role's job and detectable by
`ledger_verify`. TRUNCATE is refused too, except in a database whose `pacta.allow_truncate`
setting is on (the test databases, which Django empties between tests).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION pacta_ledger_refuse_change() RETURNS trigger
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

CREATE TRIGGER ledger_refuse_update_delete
    BEFORE UPDATE OR DELETE ON evidence_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION pacta_ledger_refuse_change();

CREATE TRIGGER ledger_refuse_truncate
    BEFORE TRUNCATE ON evidence_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION pacta_ledger_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS ledger_refuse_truncate ON evidence_ledgerentry;
DROP TRIGGER IF EXISTS ledger_refuse_update_delete ON evidence_ledgerentry;
DROP FUNCTION IF EXISTS pacta_ledger_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("evidence", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
