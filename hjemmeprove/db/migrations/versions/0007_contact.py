"""contact: reminder preferences, reminders, the SMS outbox, letter records

Revision ID: 0007
Revises: 0006
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "contact_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("sms_consent", sa.Boolean(), nullable=False),
        sa.Column("mobile", sa.String(length=40), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.CheckConstraint("channel IN ('', 'letter', 'sms', 'phone', 'none')",
                           name="ck_contact_preferences_channel"),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"]),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_contact_preferences_citizen_id"), "contact_preferences",
                    ["citizen_id"], unique=False)
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("list_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=15), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("channel IN ('letter', 'sms', 'phone')", name="ck_reminders_channel"),
        sa.CheckConstraint("status IN ('todo', 'sent', 'delivered', 'failed', 'reached', "
                           "'not_reached')", name="ck_reminders_status"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "visit_date", name="uq_reminders_visit"),
    )
    op.create_index(op.f("ix_reminders_visit_date"), "reminders", ["visit_date"], unique=False)
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reminder_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=480), nullable=False),
        sa.Column("status", sa.String(length=15), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("gateway_status", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'delivered', 'failed')",
                           name="ck_sms_outbox_status"),
        sa.ForeignKeyConstraint(["reminder_id"], ["reminders.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reminder_id"),
    )
    op.create_index(op.f("ix_sms_outbox_status"), "sms_outbox", ["status"], unique=False)
    op.create_table(
        "letter_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("paper", sa.Boolean(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id", "visit_date", name="uq_letter_records_visit"),
    )


def downgrade() -> None:
    op.drop_table("letter_records")
    op.drop_index(op.f("ix_sms_outbox_status"), table_name="sms_outbox")
    op.drop_table("sms_outbox")
    op.drop_index(op.f("ix_reminders_visit_date"), table_name="reminders")
    op.drop_table("reminders")
    op.drop_index(op.f("ix_contact_preferences_citizen_id"), table_name="contact_preferences")
    op.drop_table("contact_preferences")
