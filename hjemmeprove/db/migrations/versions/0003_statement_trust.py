"""statements a municipality can check: personal data setting, the municipality's reference,
structured statement terms

Revision ID: 0003
Revises: 0002

- agreements.statement_personal_data: which personal data a statement line shows ("referral"
  only by default; an agreement that asked for the full CPR keeps name and CPR);
- requests.municipality_reference: the municipality's own reference for a referral;
- invoices.terms (JSON rows [label, value]) and invoices.credit_reason replace the flattened
  invoices.settings_text (existing texts are split into rows once, here).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("agreements") as b:
        b.add_column(sa.Column("statement_personal_data", sa.String(length=20), nullable=False,
                               server_default="referral"))
    op.execute("UPDATE agreements SET statement_personal_data = 'name_cpr' "
               "WHERE statement_full_cpr")
    with op.batch_alter_table("requests") as b:
        b.add_column(sa.Column("municipality_reference", sa.String(length=100), nullable=False,
                               server_default=""))
    with op.batch_alter_table("invoices") as b:
        b.add_column(sa.Column("terms", sa.JSON(), nullable=True))
        b.add_column(sa.Column("credit_reason", sa.Text(), nullable=False, server_default=""))
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    if pg:  # an issued invoice's row is guarded (roles setup); this is its one conversion
        op.execute("ALTER TABLE invoices DISABLE TRIGGER USER")
    invoices = sa.table("invoices", sa.column("id", sa.Integer), sa.column("terms", sa.JSON),
                        sa.column("credit_reason", sa.Text),
                        sa.column("settings_text", sa.Text))
    for inv_id, text in conn.execute(sa.select(invoices.c.id, invoices.c.settings_text)).all():
        rows = [line.split(": ", 1) for line in (text or "").splitlines() if ": " in line]
        reason = ""
        if rows and rows[0][0] == "Begrundelse":
            reason = rows.pop(0)[1]
        conn.execute(invoices.update().where(invoices.c.id == inv_id)
                     .values(terms=rows, credit_reason=reason))
    if pg:
        op.execute("ALTER TABLE invoices ENABLE TRIGGER USER")
    with op.batch_alter_table("invoices") as b:
        b.alter_column("terms", existing_type=sa.JSON(), nullable=False)
        b.drop_column("settings_text")


def downgrade() -> None:
    with op.batch_alter_table("invoices") as b:
        b.add_column(sa.Column("settings_text", sa.Text(), nullable=False, server_default=""))
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    if pg:
        op.execute("ALTER TABLE invoices DISABLE TRIGGER USER")
    invoices = sa.table("invoices", sa.column("id", sa.Integer), sa.column("terms", sa.JSON),
                        sa.column("credit_reason", sa.Text),
                        sa.column("settings_text", sa.Text))
    for inv_id, terms, reason in conn.execute(
            sa.select(invoices.c.id, invoices.c.terms, invoices.c.credit_reason)).all():
        rows = ([["Begrundelse", reason]] if reason else []) + list(terms or [])
        conn.execute(invoices.update().where(invoices.c.id == inv_id)
                     .values(settings_text="\n".join(f"{k}: {v}" for k, v in rows)))
    if pg:
        op.execute("ALTER TABLE invoices ENABLE TRIGGER USER")
    with op.batch_alter_table("invoices") as b:
        b.drop_column("credit_reason")
        b.drop_column("terms")
    with op.batch_alter_table("requests") as b:
        b.drop_column("municipality_reference")
    with op.batch_alter_table("agreements") as b:
        b.drop_column("statement_personal_data")
