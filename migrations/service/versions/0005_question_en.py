"""English title of a KB entry (issue 19)

Revision ID: 0005
Revises: 0004

- kb_entry_versions.question_en: the optional English title of an entry, the label English
  clarify buttons show (nullable: entries without one keep showing the Chinese question).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kb_entry_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question_en", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kb_entry_versions", schema=None) as batch_op:
        batch_op.drop_column("question_en")
