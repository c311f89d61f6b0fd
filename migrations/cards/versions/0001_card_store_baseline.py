"""card store baseline

Revision ID: 0001
Revises: (none)

Every table of the card-account store as the previous release created it.
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
    if _missing("cardholders"):
        op.create_table('cardholders',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('tier', sa.String(length=16), nullable=False),
        sa.Column('id_last6', sa.String(length=6), nullable=False),
        sa.Column('statement_day', sa.Integer(), nullable=False),
        sa.Column('statement_day_changed_on', sa.Date(), nullable=True),
        sa.Column('old_day_closes_on', sa.Date(), nullable=True),
        sa.Column('credit_limit_fen', sa.BigInteger(), nullable=False),
        sa.Column('temp_limit_fen', sa.BigInteger(), nullable=False),
        sa.Column('temp_limit_end', sa.Date(), nullable=True),
        sa.Column('temp_limit_max_fen', sa.BigInteger(), nullable=False),
        sa.Column('balance_fen', sa.BigInteger(), nullable=False),
        sa.Column('customer_since', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('cardholders', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_cardholders_user_id'), ['user_id'], unique=True)

    if _missing("store_meta"):
        op.create_table('store_meta',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint('key')
        )
    if _missing("account_events"):
        op.create_table('account_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('cardholder_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['cardholder_id'], ['cardholders.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('account_events', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_account_events_cardholder_id'), ['cardholder_id'], unique=False)

    if _missing("cards"):
        op.create_table('cards',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('cardholder_id', sa.Integer(), nullable=False),
        sa.Column('last4', sa.String(length=4), nullable=False),
        sa.Column('tier', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('opened_on', sa.Date(), nullable=False),
        sa.Column('activated_on', sa.Date(), nullable=True),
        sa.Column('annual_fee_next_on', sa.Date(), nullable=True),
        sa.Column('swipes_this_year', sa.Integer(), nullable=False),
        sa.Column('replaces_card_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['cardholder_id'], ['cardholders.id'], ),
        sa.ForeignKeyConstraint(['replaces_card_id'], ['cards.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('cardholder_id', 'last4')
        )
        with op.batch_alter_table('cards', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_cards_cardholder_id'), ['cardholder_id'], unique=False)

    if _missing("installment_plans"):
        op.create_table('installment_plans',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('cardholder_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('principal_fen', sa.BigInteger(), nullable=False),
        sa.Column('periods', sa.Integer(), nullable=False),
        sa.Column('rate_per_period_bp', sa.Integer(), nullable=False),
        sa.Column('fee_per_period_fen', sa.BigInteger(), nullable=False),
        sa.Column('created_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['cardholder_id'], ['cardholders.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('installment_plans', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_installment_plans_cardholder_id'), ['cardholder_id'], unique=False)

    if _missing("points_lots"):
        op.create_table('points_lots',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('cardholder_id', sa.Integer(), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['cardholder_id'], ['cardholders.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('points_lots', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_points_lots_cardholder_id'), ['cardholder_id'], unique=False)

    if _missing("redemptions"):
        op.create_table('redemptions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('cardholder_id', sa.Integer(), nullable=False),
        sa.Column('item_code', sa.String(length=32), nullable=False),
        sa.Column('points', sa.Integer(), nullable=False),
        sa.Column('created_on', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['cardholder_id'], ['cardholders.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('redemptions', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_redemptions_cardholder_id'), ['cardholder_id'], unique=False)

    if _missing("statements"):
        op.create_table('statements',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('cardholder_id', sa.Integer(), nullable=False),
        sa.Column('statement_date', sa.Date(), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('total_fen', sa.BigInteger(), nullable=False),
        sa.Column('min_payment_fen', sa.BigInteger(), nullable=False),
        sa.Column('paid_fen', sa.BigInteger(), nullable=False),
        sa.Column('installed_fen', sa.BigInteger(), nullable=False),
        sa.Column('installment_plan_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['cardholder_id'], ['cardholders.id'], ),
        sa.ForeignKeyConstraint(['installment_plan_id'], ['installment_plans.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('statements', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_statements_cardholder_id'), ['cardholder_id'], unique=False)

    if _missing("transactions"):
        op.create_table('transactions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('cardholder_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('posted_on', sa.Date(), nullable=False),
        sa.Column('merchant', sa.String(length=128), nullable=False),
        sa.Column('amount_fen', sa.BigInteger(), nullable=False),
        sa.Column('statement_id', sa.Integer(), nullable=True),
        sa.Column('installment_plan_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ),
        sa.ForeignKeyConstraint(['cardholder_id'], ['cardholders.id'], ),
        sa.ForeignKeyConstraint(['installment_plan_id'], ['installment_plans.id'], ),
        sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('transactions', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_transactions_cardholder_id'), ['cardholder_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transactions_cardholder_id'))

    op.drop_table('transactions')
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statements_cardholder_id'))

    op.drop_table('statements')
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redemptions_cardholder_id'))

    op.drop_table('redemptions')
    with op.batch_alter_table('points_lots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_lots_cardholder_id'))

    op.drop_table('points_lots')
    with op.batch_alter_table('installment_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_installment_plans_cardholder_id'))

    op.drop_table('installment_plans')
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cards_cardholder_id'))

    op.drop_table('cards')
    with op.batch_alter_table('account_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_events_cardholder_id'))

    op.drop_table('account_events')
    op.drop_table('store_meta')
    with op.batch_alter_table('cardholders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cardholders_user_id'))

    op.drop_table('cardholders')
