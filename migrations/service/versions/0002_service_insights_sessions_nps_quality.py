"""service insights: conversation sessions, NPS answers, quality inspection (issue 18)

Revision ID: 0002
Revises: 0001

New tables only; existing tables are untouched. Sessions start being recorded from this
release on (earlier conversations are not back-filled).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # indexes of the dashboard's date ranges on two existing tables
    with op.batch_alter_table('kb_events', schema=None) as batch_op:
        batch_op.create_index('ix_kb_events_at_outcome', ['created_at', 'outcome', 'entry_id', 'helpful'], unique=False)
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoffs_requested_at'), ['requested_at'], unique=False)
    op.create_table('quality_inspections',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=36), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('inspected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flags', sa.Integer(), nullable=False),
    sa.Column('risk', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['staff_users.id'], ),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('handoff_id')
    )
    with op.batch_alter_table('quality_inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_inspections_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_inspections_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_inspections_inspected_at'), ['inspected_at'], unique=False)

    op.create_table('service_sessions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=36), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=16), nullable=True),
    sa.Column('turns', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('clarify', sa.Integer(), nullable=False),
    sa.Column('fallback', sa.Integer(), nullable=False),
    sa.Column('thumbs_down', sa.Integer(), nullable=False),
    sa.Column('handoff', sa.Boolean(), nullable=False),
    sa.Column('handoff_reason', sa.String(length=32), nullable=True),
    sa.Column('handoff_id', sa.Integer(), nullable=True),
    sa.Column('kb_entries', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('service_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_sessions_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index('ix_service_sessions_started', ['started_at', 'channel', 'tier', 'turns', 'answered', 'clarify', 'fallback', 'thumbs_down', 'handoff', 'handoff_reason'], unique=False)

    op.create_table('nps_responses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('human', sa.Boolean(), nullable=False),
    sa.Column('kb_entries', sa.JSON(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('csat', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['service_sessions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id')
    )
    with op.batch_alter_table('nps_responses', schema=None) as batch_op:
        batch_op.create_index('ix_nps_responses_asked', ['asked_at', 'channel', 'tier', 'score', 'csat'], unique=False)
        batch_op.create_index(batch_op.f('ix_nps_responses_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('quality_flags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=36), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['staff_users.id'], ),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['inspection_id'], ['quality_inspections.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.ForeignKeyConstraint(['reviewer_id'], ['staff_users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quality_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quality_flags_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_flags_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quality_flags_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_requested_at'))
    with op.batch_alter_table('kb_events', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_events_at_outcome')
    with op.batch_alter_table('quality_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_flags_status'))
        batch_op.drop_index(batch_op.f('ix_quality_flags_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_quality_flags_conversation_id'))

    op.drop_table('quality_flags')
    with op.batch_alter_table('nps_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nps_responses_conversation_id'))
        batch_op.drop_index('ix_nps_responses_asked')

    op.drop_table('nps_responses')
    with op.batch_alter_table('service_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_service_sessions_started')
        batch_op.drop_index(batch_op.f('ix_service_sessions_conversation_id'))

    op.drop_table('service_sessions')
    with op.batch_alter_table('quality_inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quality_inspections_inspected_at'))
        batch_op.drop_index(batch_op.f('ix_quality_inspections_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_quality_inspections_agent_id'))

    op.drop_table('quality_inspections')
