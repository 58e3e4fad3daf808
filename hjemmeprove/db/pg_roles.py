"""PostgreSQL: the program's roles as database roles, privileges and triggers.

``hjemmeprove roles setup`` (run once by the database's owner, after ``db upgrade``) creates
the group roles ``hjemmeprove_coordinator``, ``hjemmeprove_finance`` and
``hjemmeprove_administrator``, grants them privileges table by table, and installs triggers
that hold for *everyone*, the owner included:

- the audit trail (``audit_log``) takes inserts only; an update may only *redact* (replace
  values in ``before``/``after`` by the erasure marker, as retention does); deletes and
  TRUNCATE are refused; the user column is set to the database login that wrote it;
- an issued invoice (``status = 'issued'``), its lines and items cannot be inserted, updated or
  deleted (an item's citizen name and CPR may be redacted); nothing can be added to its
  documents, they cannot be changed, and only statements more than 5 years old (the
  accounting retention period) may be deleted. The transaction that issues an invoice (or
  inserts a credit note as issued) may still complete it before it commits;
- the invoice number counter never goes back and is never deleted; at COMMIT, every number it
  advanced over must be on an invoice, and a number set on an invoice must have been taken
  from the counter in that same transaction and be the highest so far: numbers come from the
  issuing path only and stay gapless.

A login belongs to one group: ``hjemmeprove users add NAME --role R`` grants it (and creates a
login role without password if there is none; the DBA sets its authentication).
Everything here can be run again (idempotent).
"""

from __future__ import annotations

from sqlalchemy import text

from hjemmeprove.domain.constants import ADMINISTRATOR, COORDINATOR, ERASED, FINANCE, PG_GROUP_ROLES

WRITE = "SELECT, INSERT, UPDATE, DELETE"

# table -> {role: privileges}; every group may SELECT every table (set below)
TABLE_PRIVILEGES: dict[str, dict[str, str]] = {
    "requests": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},  # admin: erasure
    "citizens": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    "cancellations": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    # finance locks the billing shares; the administrator erases notes (retention)
    "visits": {COORDINATOR: WRITE, FINANCE: "UPDATE", ADMINISTRATOR: "UPDATE"},
    "routes": {COORDINATOR: WRITE, FINANCE: "UPDATE"},
    "bioanalysts": {COORDINATOR: WRITE, ADMINISTRATOR: WRITE},
    "absences": {COORDINATOR: WRITE, ADMINISTRATOR: WRITE},
    "closing_days": {COORDINATOR: WRITE, ADMINISTRATOR: WRITE},
    "distance_cache": {COORDINATOR: WRITE, FINANCE: WRITE, ADMINISTRATOR: "DELETE"},
    # reminders (hjemmeprove/contact): the coordinators'; the administrator erases (retention)
    "contact_preferences": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    "reminders": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    "sms_outbox": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    "letter_records": {COORDINATOR: WRITE},
    "agreements": {FINANCE: WRITE},
    "wage_indexes": {FINANCE: WRITE},
    "announced_rates": {FINANCE: WRITE},
    "mileage_rates": {FINANCE: WRITE},
    "invoices": {FINANCE: WRITE},
    "invoice_lines": {FINANCE: WRITE},
    "invoice_items": {FINANCE: WRITE, ADMINISTRATOR: "UPDATE (citizen_name, cpr)"},
    "invoice_documents": {FINANCE: WRITE, ADMINISTRATOR: "DELETE"},
    "number_sequences": {FINANCE: "SELECT, INSERT, UPDATE"},
    # billing decisions as data: the coordinator's ferry answers, finance's duplicate
    # decisions, the administrator's override of an incomplete month
    "ferry_resolutions": {COORDINATOR: WRITE},
    "duplicate_decisions": {FINANCE: WRITE},
    "issue_overrides": {ADMINISTRATOR: WRITE},
    "municipalities": {FINANCE: WRITE, ADMINISTRATOR: WRITE},
    "departments": {FINANCE: WRITE, ADMINISTRATOR: WRITE},
    # electronic intake: the coordinators read the inbox and act on messages; the senders'
    # register is kept with the municipalities
    # (the administrator erases their personal data at the end of the retention period)
    "intake_threads": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    "intake_messages": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    "intake_segments": {COORDINATOR: WRITE, ADMINISTRATOR: "UPDATE"},
    "intake_log": {COORDINATOR: "INSERT"},
    "intake_senders": {FINANCE: WRITE, ADMINISTRATOR: WRITE},
    "settings": {ADMINISTRATOR: WRITE},
    "users": {ADMINISTRATOR: WRITE},
    # the trail: everyone appends; only the administrator may redact (trigger-checked)
    "audit_log": {COORDINATOR: "INSERT", FINANCE: "INSERT",
                  ADMINISTRATOR: 'INSERT, UPDATE ("before", "after")'},
}

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION hjemmeprove_only_redaction(old_text text, new_text text)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE o jsonb; n jsonb;
BEGIN
  IF old_text IS NOT DISTINCT FROM new_text THEN RETURN true; END IF;
  o := COALESCE(NULLIF(old_text, '')::jsonb, '{{}}'::jsonb);
  n := COALESCE(NULLIF(new_text, '')::jsonb, '{{}}'::jsonb);
  IF (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(o) k)
     IS DISTINCT FROM (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(n) k) THEN
    RETURN false;
  END IF;
  RETURN NOT EXISTS (SELECT 1 FROM jsonb_each(n) e
                     WHERE e.value IS DISTINCT FROM o -> e.key
                       AND e.value IS DISTINCT FROM to_jsonb('{ERASED}'::text));
EXCEPTION WHEN OTHERS THEN
  RETURN false;
END $fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_audit_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW."user" IS DISTINCT FROM session_user::text THEN
      NEW."user" := left(session_user::text ||
        CASE WHEN COALESCE(NEW."user", '') <> '' THEN ' (' || NEW."user" || ')' ELSE '' END, 100);
    END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE'
     AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW."user" = OLD."user"
     AND NEW.table_name = OLD.table_name AND NEW.row_key = OLD.row_key
     AND NEW.action = OLD.action
     AND hjemmeprove_only_redaction(OLD."before", NEW."before")
     AND hjemmeprove_only_redaction(OLD."after", NEW."after") THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'revisionssporet kan ikke ændres eller slettes (kun personoplysninger kan '
                  'slettes efter opbevaringsperioden)' USING ERRCODE = 'insufficient_privilege';
END $fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '% kan ikke tømmes', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_issued_in_this_transaction(invoice_id integer)
RETURNS boolean LANGUAGE sql STABLE AS $fn$
  -- the invoice row was last written (issued) by the current transaction itself
  SELECT COALESCE((SELECT xmin = pg_current_xact_id()::xid FROM invoices
                   WHERE id = invoice_id), false)
$fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_invoice_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  -- issued: final, except within the very transaction that issues it (which may still set
  -- its number, dates and issuer before it commits)
  IF OLD.status = 'issued' AND NOT hjemmeprove_issued_in_this_transaction(OLD.id) THEN
    RAISE EXCEPTION 'faktura nr. % er udstedt og kan ikke ændres eller slettes (udsted en '
                    'kreditnota)', OLD.number USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_invoice_is_final(invoice_id integer)
RETURNS boolean LANGUAGE sql STABLE AS $fn$
  -- issued, and not by the current transaction (which may still complete what it issues)
  SELECT COALESCE((SELECT status = 'issued' FROM invoices WHERE id = invoice_id), false)
         AND NOT hjemmeprove_issued_in_this_transaction(invoice_id)
$fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_invoice_part_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE inv record; target integer;
BEGIN
  IF TG_OP = 'INSERT' THEN
    target := NEW.invoice_id;
  ELSE
    target := OLD.invoice_id;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF NEW.invoice_id IS DISTINCT FROM OLD.invoice_id
       AND hjemmeprove_invoice_is_final(NEW.invoice_id) THEN
      target := NEW.invoice_id;  -- moving a row onto an issued invoice adds to it
    END IF;
  END IF;
  SELECT status, number, issue_date INTO inv FROM invoices WHERE id = target;
  IF NOT hjemmeprove_invoice_is_final(target) THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    RAISE EXCEPTION 'faktura nr. % er udstedt: der kan ikke tilføjes til dens %',
                    inv.number, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_TABLE_NAME = 'invoice_items' AND TG_OP = 'UPDATE' THEN
    -- (nested: plpgsql does not promise to stop at the first false AND)
    IF (to_jsonb(NEW) - 'citizen_name' - 'cpr') = (to_jsonb(OLD) - 'citizen_name' - 'cpr')
       AND to_jsonb(NEW) ->> 'citizen_name' IN (to_jsonb(OLD) ->> 'citizen_name', '{ERASED}')
       AND to_jsonb(NEW) ->> 'cpr' IN (to_jsonb(OLD) ->> 'cpr', '{ERASED}') THEN
      RETURN NEW;  -- erasure of personal data; the billed figures stay
    END IF;
  END IF;
  IF TG_TABLE_NAME = 'invoice_documents' AND TG_OP = 'DELETE' THEN
    IF to_jsonb(OLD) ->> 'kind' LIKE 'statement%'
       AND inv.issue_date < current_date - interval '5 years' THEN
      RETURN OLD;  -- a statement past the accounting retention period
    END IF;
  END IF;
  RAISE EXCEPTION 'faktura nr. % er udstedt: dens % kan ikke ændres eller slettes',
                  inv.number, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_sequence_guard() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.last_value < OLD.last_value OR NEW.name <> OLD.name THEN
    RAISE EXCEPTION 'nummerserien % kan ikke slettes eller sættes tilbage', OLD.name
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_sequence_used() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE unused integer;
BEGIN
  -- deferred to COMMIT: every number the counter advanced over went to an invoice or credit
  -- note in the same transaction (the issuing path); advancing it by hand leaves a gap
  SELECT n INTO unused FROM generate_series(OLD.last_value + 1, NEW.last_value) n
   WHERE NOT EXISTS (SELECT 1 FROM invoices i WHERE i.number = n) ORDER BY n LIMIT 1;
  IF unused IS NOT NULL THEN
    RAISE EXCEPTION 'nummerserien % kan kun tælles op ved udstedelse (nr. % er ikke brugt)',
                    NEW.name, unused USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NULL;
END $fn$;

CREATE OR REPLACE FUNCTION hjemmeprove_number_from_sequence() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE seq record; current_number integer;
BEGIN
  -- deferred to COMMIT: a number set on an invoice in this transaction was taken from the
  -- counter in this same transaction, and numbers only go up
  SELECT number INTO current_number FROM invoices WHERE id = NEW.id;
  IF current_number IS NULL OR (TG_OP = 'UPDATE' AND OLD.number IS NOT DISTINCT FROM NEW.number)
  THEN
    RETURN NULL;
  END IF;
  SELECT last_value, xmin = pg_current_xact_id()::xid AS advanced INTO seq
    FROM number_sequences WHERE name = 'invoice';
  IF seq IS NULL OR NOT seq.advanced OR current_number > seq.last_value
     OR EXISTS (SELECT 1 FROM invoices WHERE number > current_number
                AND xmin <> pg_current_xact_id()::xid) THEN
    RAISE EXCEPTION 'fakturanummer % er ikke taget fra nummerserien ved udstedelse',
                    current_number USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NULL;
END $fn$;
"""

TRIGGERS = {
    "audit_log": [("hjemmeprove_audit_guard", "BEFORE INSERT OR UPDATE OR DELETE", "ROW"),
                  ("hjemmeprove_refuse_truncate", "BEFORE TRUNCATE", "STATEMENT")],
    "invoices": [("hjemmeprove_invoice_guard", "BEFORE UPDATE OR DELETE", "ROW"),
                 ("hjemmeprove_refuse_truncate", "BEFORE TRUNCATE", "STATEMENT")],
    "invoice_lines": [("hjemmeprove_invoice_part_guard", "BEFORE INSERT OR UPDATE OR DELETE",
                       "ROW")],
    "invoice_items": [("hjemmeprove_invoice_part_guard", "BEFORE INSERT OR UPDATE OR DELETE",
                       "ROW")],
    "invoice_documents": [("hjemmeprove_invoice_part_guard", "BEFORE INSERT OR UPDATE OR DELETE",
                           "ROW")],
    "number_sequences": [("hjemmeprove_sequence_guard", "BEFORE UPDATE OR DELETE", "ROW")],
}

# checked at COMMIT (constraint triggers, deferred): the counter and the numbers on invoices
# move together, in the issuing transaction only
DEFERRED_TRIGGERS = {
    "number_sequences": [("hjemmeprove_sequence_used", "AFTER UPDATE")],
    "invoices": [("hjemmeprove_number_from_sequence", "AFTER INSERT OR UPDATE OF number")],
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def setup_sql() -> list[str]:
    """The statements, in order (also what ``roles setup --print`` shows the DBA)."""
    stmts: list[str] = []
    for group in PG_GROUP_ROLES.values():
        stmts.append(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{group}') "
            f"THEN CREATE ROLE {group} NOLOGIN; END IF; END $$")
    groups = ", ".join(PG_GROUP_ROLES.values())
    stmts.append(f"GRANT USAGE ON SCHEMA public TO {groups}")
    from hjemmeprove.db.models import PG_SEARCH_COPY, Base

    # the search text's copy (migration 0013): read by all, written by its trigger alone
    tables = sorted(Base.metadata.tables) + ["alembic_version", PG_SEARCH_COPY]
    for table in tables:
        stmts.append(f"REVOKE ALL ON {_q(table)} FROM PUBLIC, {groups}")
        stmts.append(f"GRANT SELECT ON {_q(table)} TO {groups}")
        for role, privileges in TABLE_PRIVILEGES.get(table, {}).items():
            stmts.append(f"GRANT {privileges} ON {_q(table)} TO {PG_GROUP_ROLES[role]}")
    stmts.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {groups}")
    stmts.append(FUNCTIONS)
    for table, triggers in TRIGGERS.items():
        for function, when, level in triggers:
            name = f"{function}_{'stmt' if level == 'STATEMENT' else 'row'}"
            stmts.append(f"DROP TRIGGER IF EXISTS {name} ON {_q(table)}")
            stmts.append(f"CREATE TRIGGER {name} {when} ON {_q(table)} "
                         f"FOR EACH {level} EXECUTE FUNCTION {function}()")
    for table, triggers in DEFERRED_TRIGGERS.items():
        for function, when in triggers:
            name = f"{function}_commit"
            stmts.append(f"DROP TRIGGER IF EXISTS {name} ON {_q(table)}")
            stmts.append(f"CREATE CONSTRAINT TRIGGER {name} {when} ON {_q(table)} "
                         f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "
                         f"{function}()")
    return stmts


def setup(store) -> list[str]:
    """Creates the group roles, privileges and triggers (as the owner); returns the roles."""
    if store.is_sqlite:
        raise ValueError("databaseroller findes kun på PostgreSQL")
    with store.engine.begin() as conn:
        for stmt in setup_sql():
            conn.execute(text(stmt))
    return list(PG_GROUP_ROLES.values())


def grant_login(store, username: str, role: str) -> None:
    """Makes the login ``username`` a member of exactly the group of ``role``."""
    with store.engine.begin() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": username})
        if not exists:
            conn.execute(text(f"CREATE ROLE {_q(username)} LOGIN"))
        for r, group in PG_GROUP_ROLES.items():
            if r == role:
                conn.execute(text(f"GRANT {group} TO {_q(username)}"))
            else:
                conn.execute(text(f"REVOKE {group} FROM {_q(username)}"))


def revoke_login(store, username: str) -> None:
    with store.engine.begin() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": username}):
            for group in PG_GROUP_ROLES.values():
                conn.execute(text(f"REVOKE {group} FROM {_q(username)}"))
