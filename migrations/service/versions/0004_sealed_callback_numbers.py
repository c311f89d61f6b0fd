"""ticket callback numbers sealed at rest (issue 16)

Revision ID: 0004
Revises: 0003

A sealed number (`v1:` + a Fernet token, api/core/vault.py) is about 130 characters, so the
column grows from 32 to 255. Numbers stored before stay readable as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.alter_column("callback_number", existing_type=sa.String(length=32),
                              type_=sa.String(length=255), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.alter_column("callback_number", existing_type=sa.String(length=255),
                              type_=sa.String(length=32), existing_nullable=True)
