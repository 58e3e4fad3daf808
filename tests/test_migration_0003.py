"""Migration 0003 on a database with history: a statement's flattened terms become rows, a
credit note's reason its own column, an agreement that asked for the full CPR keeps name and
CPR on its statements. On PostgreSQL it passes the guards on issued invoices (roles set up)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from hjemmeprove.db.migrate import alembic_config


def _upgrade(engine, url, revision):
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _old_agreement(c, full_cpr: bool) -> None:
    """A department, Svendborg and their agreement, as rows of the 0001 schema."""
    c.execute(text(
        "INSERT INTO departments (id, name, hospital, lab_address, lab_postcode, lab_city,"
        " lab_lat, lab_lon, cvr, ean, bank_reg, bank_account, contact_name, "
        "contact_email, contact_phone, payment_days) VALUES (1, 'KBA', 'OUH', 'Vej 1', "
        "'5700', 'Svendborg', 55.0, 10.6, '', '', '', '', '', '', '', 30)"))
    c.execute(text("INSERT INTO municipalities (id, code, name, ean, address, postcode, "
                   "city, contact_name, contact_email, contact_phone) VALUES "
                   "(1, 479, 'Svendborg', '', '', '', '', '', '', '')"))
    c.execute(text(
        "INSERT INTO agreements (id, municipality_id, department_id, start, reference, "
        "billable_outcomes, allocation_rule, ferry_speed_kmh, statement_full_cpr, "
        "vat_percent, invoice_ean, person_reference, order_reference, "
        "reply_window_minutes, version) VALUES (1, 1, 1, '2020-01-01', '', 'taken', "
        f"'standalone', 60, {'true' if full_cpr else 'false'}, 0, '', '', '', 120, 1)"))


def test_upgrade_turns_settings_text_into_rows(db_url):
    engine = create_engine(db_url)
    try:
        _upgrade(engine, db_url, "0001")
        with engine.begin() as c:
            _old_agreement(c, full_cpr=True)
            for i, (kind, settings, credits) in enumerate([
                    ("invoice", "Fordeling: enkelttur\nMoms: ingen", None),
                    ("credit_note", "Begrundelse: forkert: adresse\nFordeling: enkelttur", 1)],
                    start=1):
                c.execute(text(
                    "INSERT INTO invoices (id, kind, number, agreement_id, municipality_id, "
                    "department_id, month, status, issue_date, total, vat_amount, "
                    "credits_invoice_id, settings_text, issued_by, created_at) VALUES (:i, :k, "
                    ":i, 1, 1, 1, '2020-03', 'issued', '2020-04-01', 10, 0, :c, :s, 'x', "
                    "'2020-04-01')"), {"i": i, "k": kind, "s": settings, "c": credits})
        if engine.dialect.name == "postgresql":
            from hjemmeprove.db import pg_roles

            with engine.begin() as c:
                for stmt in pg_roles.setup_sql():
                    if "FUNCTION hjemmeprove" in stmt or (
                            "TRIGGER" in stmt and '"invoices"' in stmt):
                        c.execute(text(stmt))
            with pytest.raises(DBAPIError, match="er udstedt"), engine.begin() as c:
                c.execute(text("UPDATE invoices SET settings_text = '' WHERE id = 1"))
        _upgrade(engine, db_url, "0003")
        with engine.connect() as c:
            rows = {i: (terms, reason) for i, terms, reason in c.execute(text(
                "SELECT id, terms, credit_reason FROM invoices ORDER BY id"))}
            level = c.execute(text("SELECT statement_personal_data FROM agreements")).scalar()
        import json

        def rows_of(terms):
            return json.loads(terms) if isinstance(terms, str) else terms

        assert rows_of(rows[1][0]) == [["Fordeling", "enkelttur"], ["Moms", "ingen"]]
        assert rows[1][1] == ""
        assert rows_of(rows[2][0]) == [["Fordeling", "enkelttur"]]
        assert rows[2][1] == "forkert: adresse"
        assert level == "name_cpr"
    finally:
        engine.dispose()


def test_the_program_upgrades_a_database_with_invoice_lines(tmp_path):
    """The program's own upgrade (foreign keys enforced on its connections) copies the
    invoices table in SQLite's batch mode although invoice lines refer to it."""
    from hjemmeprove.app import App

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    try:
        _upgrade(engine, url, "0001")
        with engine.begin() as c:
            _old_agreement(c, full_cpr=False)
            c.execute(text(
                "INSERT INTO invoices (id, kind, number, agreement_id, municipality_id, "
                "department_id, month, status, issue_date, total, vat_amount, "
                "credits_invoice_id, settings_text, issued_by, created_at) VALUES (1, 'invoice', "
                "1, 1, 1, 1, '2020-03', 'issued', '2020-04-01', 10, 0, NULL, 'Moms: ingen', "
                "'x', '2020-04-01')"))
            c.execute(text("INSERT INTO invoice_lines (invoice_id, position, code, text, "
                           "quantity, unit, rate, amount) VALUES (1, 1, 'per_referral', "
                           "'Faste priser', 1, 'stk', 10, 10)"))
    finally:
        engine.dispose()
    a = App(url, user="test")  # migrates to the newest revision
    try:
        with a.store.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM invoice_lines")).scalar() == 1
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        a.close()
