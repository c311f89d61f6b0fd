"""service database baseline

Revision ID: 0001
Revises: (none)

Every table of the service database as the previous release created it.
That release made them with `create_all` on first use, so a table that already exists
is kept as it is; only the missing ones are created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations import table_missing as _missing

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if _missing("conversations"):
        op.create_table('conversations',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel', 'user_id')
        )
        with op.batch_alter_table('conversations', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_conversations_user_id'), ['user_id'], unique=False)

    if _missing("kb_audit_log"):
        op.create_table('kb_audit_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('action', sa.String(length=24), nullable=False),
        sa.Column('entry_id', sa.String(length=64), nullable=True),
        sa.Column('release', sa.Integer(), nullable=True),
        sa.Column('revision', sa.Integer(), nullable=True),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('kb_audit_log', schema=None) as batch_op:
            batch_op.create_index('ix_kb_audit_entry_at', ['entry_id', 'at'], unique=False)
            batch_op.create_index(batch_op.f('ix_kb_audit_log_action'), ['action'], unique=False)
            batch_op.create_index(batch_op.f('ix_kb_audit_log_actor'), ['actor'], unique=False)
            batch_op.create_index(batch_op.f('ix_kb_audit_log_at'), ['at'], unique=False)

    if _missing("kb_drafts"):
        op.create_table('kb_drafts',
        sa.Column('entry_id', sa.String(length=64), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('data', sa.JSON(none_as_null=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('entry_id')
        )
    if _missing("kb_inbox_resolved"):
        op.create_table('kb_inbox_resolved',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('resolution', sa.String(length=16), nullable=False),
        sa.Column('entry_id', sa.String(length=64), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key')
        )
    if _missing("kb_releases"):
        op.create_table('kb_releases',
        sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('entry_count', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('number')
        )
    if _missing("staff_users"):
        op.create_table('staff_users',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('display_name', sa.String(length=64), nullable=False),
        sa.Column('agent_no', sa.String(length=16), nullable=True),
        sa.Column('groups', sa.JSON(), nullable=False),
        sa.Column('capacity', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username')
        )
    if _missing("wechat_inbound"):
        op.create_table('wechat_inbound',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('dedupe_key', sa.String(length=200), nullable=False),
        sa.Column('openid', sa.String(length=64), nullable=False),
        sa.Column('msg_type', sa.String(length=32), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('delivery', sa.String(length=24), nullable=True),
        sa.Column('conversation_id', sa.String(length=36), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('dedupe_key')
        )
        with op.batch_alter_table('wechat_inbound', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_wechat_inbound_created_at'), ['created_at'], unique=False)
            batch_op.create_index(batch_op.f('ix_wechat_inbound_openid'), ['openid'], unique=False)

    if _missing("wechat_outbound"):
        op.create_table('wechat_outbound',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('openid', sa.String(length=64), nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('msgtype', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('errcode', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('wechat_outbound', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_wechat_outbound_conversation_id'), ['conversation_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_wechat_outbound_openid'), ['openid'], unique=False)

    if _missing("wechat_pending_options"):
        op.create_table('wechat_pending_options',
        sa.Column('openid', sa.String(length=64), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('openid')
        )
    if _missing("handoffs"):
        op.create_table('handoffs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('group', sa.String(length=16), nullable=False),
        sa.Column('priority', sa.Boolean(), nullable=False),
        sa.Column('tier', sa.String(length=16), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('end_reason', sa.String(length=16), nullable=True),
        sa.Column('last_user_text', sa.Text(), nullable=False),
        sa.Column('last_user_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rasa_paused', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['staff_users.id'], ),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('handoffs', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_handoffs_agent_id'), ['agent_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_handoffs_conversation_id'), ['conversation_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_handoffs_group'), ['group'], unique=False)

    if _missing("kb_entry_versions"):
        op.create_table('kb_entry_versions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('entry_id', sa.String(length=64), nullable=False),
        sa.Column('release_from', sa.Integer(), nullable=False),
        sa.Column('release_to', sa.Integer(), nullable=True),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('category', sa.String(length=64), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('similar', sa.JSON(), nullable=False),
        sa.Column('answer', sa.JSON(), nullable=False),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=True),
        sa.Column('valid_to', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['release_from'], ['kb_releases.number'], ),
        sa.ForeignKeyConstraint(['release_to'], ['kb_releases.number'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('entry_id', 'release_from')
        )
        with op.batch_alter_table('kb_entry_versions', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_kb_entry_versions_entry_id'), ['entry_id'], unique=False)
            batch_op.create_index('ix_kb_entry_versions_span', ['release_from', 'release_to'], unique=False)

    if _missing("messages"):
        op.create_table('messages',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.Column('sender', sa.String(length=16), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('messages', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_messages_conversation_id'), ['conversation_id'], unique=False)

    if _missing("conversation_transitions"):
        op.create_table('conversation_transitions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=True),
        sa.Column('from_state', sa.String(length=16), nullable=False),
        sa.Column('to_state', sa.String(length=16), nullable=False),
        sa.Column('event', sa.String(length=24), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('details', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('conversation_transitions', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_conversation_transitions_conversation_id'), ['conversation_id'], unique=False)

    if _missing("handoff_surveys"):
        op.create_table('handoff_surveys',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agent_id'], ['staff_users.id'], ),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('handoff_id')
        )
        with op.batch_alter_table('handoff_surveys', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_handoff_surveys_conversation_id'), ['conversation_id'], unique=False)

    if _missing("handoff_tickets"):
        op.create_table('handoff_tickets',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('cause', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('group', sa.String(length=16), nullable=False),
        sa.Column('tier', sa.String(length=16), nullable=False),
        sa.Column('priority', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('step', sa.String(length=16), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('callback_number', sa.String(length=32), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_by', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['closed_by'], ['staff_users.id'], ),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('handoff_tickets', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_handoff_tickets_conversation_id'), ['conversation_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_handoff_tickets_status'), ['status'], unique=False)

    if _missing("kb_events"):
        op.create_table('kb_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.Column('user_message_id', sa.Integer(), nullable=False),
        sa.Column('query', sa.Text(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('entry_id', sa.String(length=64), nullable=True),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('release', sa.Integer(), nullable=True),
        sa.Column('details', sa.JSON(), nullable=True),
        sa.Column('helpful', sa.Boolean(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.ForeignKeyConstraint(['user_message_id'], ['messages.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('kb_events', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_kb_events_conversation_id'), ['conversation_id'], unique=False)
            batch_op.create_index(batch_op.f('ix_kb_events_entry_id'), ['entry_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kb_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_events_entry_id'))
        batch_op.drop_index(batch_op.f('ix_kb_events_conversation_id'))

    op.drop_table('kb_events')
    with op.batch_alter_table('handoff_tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_tickets_status'))
        batch_op.drop_index(batch_op.f('ix_handoff_tickets_conversation_id'))

    op.drop_table('handoff_tickets')
    with op.batch_alter_table('handoff_surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_surveys_conversation_id'))

    op.drop_table('handoff_surveys')
    with op.batch_alter_table('conversation_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_transitions_conversation_id'))

    op.drop_table('conversation_transitions')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_conversation_id'))

    op.drop_table('messages')
    with op.batch_alter_table('kb_entry_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_entry_versions_span')
        batch_op.drop_index(batch_op.f('ix_kb_entry_versions_entry_id'))

    op.drop_table('kb_entry_versions')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoffs_group'))
        batch_op.drop_index(batch_op.f('ix_handoffs_conversation_id'))
        batch_op.drop_index(batch_op.f('ix_handoffs_agent_id'))

    op.drop_table('handoffs')
    op.drop_table('wechat_pending_options')
    with op.batch_alter_table('wechat_outbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_outbound_openid'))
        batch_op.drop_index(batch_op.f('ix_wechat_outbound_conversation_id'))

    op.drop_table('wechat_outbound')
    with op.batch_alter_table('wechat_inbound', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_inbound_openid'))
        batch_op.drop_index(batch_op.f('ix_wechat_inbound_created_at'))

    op.drop_table('wechat_inbound')
    op.drop_table('staff_users')
    op.drop_table('kb_releases')
    op.drop_table('kb_inbox_resolved')
    op.drop_table('kb_drafts')
    with op.batch_alter_table('kb_audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_kb_audit_log_actor'))
        batch_op.drop_index(batch_op.f('ix_kb_audit_log_action'))
        batch_op.drop_index('ix_kb_audit_entry_at')

    op.drop_table('kb_audit_log')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_user_id'))

    op.drop_table('conversations')
