"""bilingual service and the VIP's own secretary (issue 19)

Revision ID: 0003
Revises: 0002

- conversations.language: the reply language kept per conversation (zh | en);
- kb_entry_versions.answer_en: the optional English answer of a KB entry;
- handoffs.preferred_agent_id / offered_until: the cardholder's own agent the episode is
  offered to first, and until when;
- cardholder_secretaries: a cardholder's own agent (set by a supervisor or learned).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), server_default="zh",
                                      nullable=False))
    with op.batch_alter_table("kb_entry_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer_en", sa.Text(), nullable=True))
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("offered_until", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_foreign_key("fk_handoffs_preferred_agent_id_staff_users",
                                    "staff_users", ["preferred_agent_id"], ["id"])
    op.create_table(
        "cardholder_secretaries",
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["staff_users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("cardholder_secretaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cardholder_secretaries_agent_id"), ["agent_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cardholder_secretaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cardholder_secretaries_agent_id"))
    op.drop_table("cardholder_secretaries")
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_handoffs_preferred_agent_id_staff_users",
                                 type_="foreignkey")
        batch_op.drop_column("offered_until")
        batch_op.drop_column("preferred_agent_id")
    with op.batch_alter_table("kb_entry_versions", schema=None) as batch_op:
        batch_op.drop_column("answer_en")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("language")
