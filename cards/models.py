"""Tables of the demo card-account store.

Written for SQLAlchemy 1.4 (Rasa runtime) and 2.x (service runtime) alike: classic `Column`
declarations on `sqlalchemy.orm.declarative_base`. Money is integer fen, never float.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

# Typed as Any: SQLAlchemy 1.4 has no type information for declarative classes.
Base: Any = declarative_base()

# Card tiers as stored; their Chinese names live in cards.rules.
STANDARD = "standard"
GOLD = "gold"
PLATINUM = "platinum"

# Card life cycle.
INACTIVE = "inactive"  # issued, not yet activated
ACTIVE = "active"
FROZEN = "frozen"  # temporarily locked by the cardholder
LOST = "lost"  # reported lost: permanently invalid


class Cardholder(Base):
    """One customer, keyed by the channel user id the API gateway passes to Rasa."""

    __tablename__ = "cardholders"

    id = Column(Integer, primary_key=True, autoincrement=True)
    user_id = Column(String(128), unique=True, nullable=False, index=True)
    name = Column(String(64), nullable=False)
    tier = Column(String(16), nullable=False)
    id_last6 = Column(String(6), nullable=False)
    statement_day = Column(Integer, nullable=False)
    statement_day_changed_on = Column(Date, nullable=True)
    # After a change the running cycle still closes on the old day, on this date.
    old_day_closes_on = Column(Date, nullable=True)
    credit_limit_fen = Column(BigInteger, nullable=False)
    temp_limit_fen = Column(BigInteger, nullable=False, default=0)
    temp_limit_end = Column(Date, nullable=True)
    # The largest temporary increase the bank's risk model pre-approved.
    temp_limit_max_fen = Column(BigInteger, nullable=False, default=0)
    balance_fen = Column(BigInteger, nullable=False, default=0)  # everything owed right now
    customer_since = Column(Date, nullable=False)

    cards = relationship("Card", back_populates="cardholder", order_by="Card.id")


class Card(Base):
    """A physical card of a cardholder; all cards share the cardholder's credit limit."""

    __tablename__ = "cards"
    __table_args__ = (UniqueConstraint("cardholder_id", "last4"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    cardholder_id = Column(ForeignKey("cardholders.id"), nullable=False, index=True)
    last4 = Column(String(4), nullable=False)
    tier = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False)
    opened_on = Column(Date, nullable=False)
    activated_on = Column(Date, nullable=True)
    # Next date the annual fee is charged, and card uses counted towards next year's waiver.
    annual_fee_next_on = Column(Date, nullable=True)
    swipes_this_year = Column(Integer, nullable=False, default=0)
    replaces_card_id = Column(ForeignKey("cards.id"), nullable=True)

    cardholder = relationship("Cardholder", back_populates="cards")


class Statement(Base):
    """A monthly statement; `paid_fen` grows with repayments."""

    __tablename__ = "statements"

    id = Column(Integer, primary_key=True, autoincrement=True)
    cardholder_id = Column(ForeignKey("cardholders.id"), nullable=False, index=True)
    statement_date = Column(Date, nullable=False)
    due_date = Column(Date, nullable=False)
    total_fen = Column(BigInteger, nullable=False)
    min_payment_fen = Column(BigInteger, nullable=False)
    paid_fen = Column(BigInteger, nullable=False, default=0)
    installed_fen = Column(BigInteger, nullable=False, default=0)  # moved into a bill instalment
    installment_plan_id = Column(ForeignKey("installment_plans.id"), nullable=True)


class Transaction(Base):
    """A posted card transaction; `statement_id` is empty until it is billed."""

    __tablename__ = "transactions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    cardholder_id = Column(ForeignKey("cardholders.id"), nullable=False, index=True)
    card_id = Column(ForeignKey("cards.id"), nullable=False)
    posted_on = Column(Date, nullable=False)
    merchant = Column(String(128), nullable=False)
    amount_fen = Column(BigInteger, nullable=False)  # positive: spending; negative: repayment
    statement_id = Column(ForeignKey("statements.id"), nullable=True)
    installment_plan_id = Column(ForeignKey("installment_plans.id"), nullable=True)


class PointsLot(Base):
    """Points earned together and expiring together (36 months after earning)."""

    __tablename__ = "points_lots"

    id = Column(Integer, primary_key=True, autoincrement=True)
    cardholder_id = Column(ForeignKey("cardholders.id"), nullable=False, index=True)
    points = Column(Integer, nullable=False)
    expires_on = Column(Date, nullable=False)


class InstallmentPlan(Base):
    """A bill or single-purchase instalment plan; the fee is charged per period."""

    __tablename__ = "installment_plans"

    id = Column(Integer, primary_key=True, autoincrement=True)
    cardholder_id = Column(ForeignKey("cardholders.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)  # bill | single
    principal_fen = Column(BigInteger, nullable=False)
    periods = Column(Integer, nullable=False)
    rate_per_period_bp = Column(Integer, nullable=False)  # hundredths of a percent: 80 = 0.80%
    fee_per_period_fen = Column(BigInteger, nullable=False)
    created_on = Column(Date, nullable=False)


class Redemption(Base):
    """Points spent on a catalogue item."""

    __tablename__ = "redemptions"

    id = Column(Integer, primary_key=True, autoincrement=True)
    cardholder_id = Column(ForeignKey("cardholders.id"), nullable=False, index=True)
    item_code = Column(String(32), nullable=False)
    points = Column(Integer, nullable=False)
    created_on = Column(Date, nullable=False)


class AccountEvent(Base):
    """Audit trail of every self-service change, written in the same transaction."""

    __tablename__ = "account_events"

    id = Column(Integer, primary_key=True, autoincrement=True)
    cardholder_id = Column(ForeignKey("cardholders.id"), nullable=False, index=True)
    kind = Column(String(32), nullable=False)
    detail = Column(Text, nullable=False, default="")
    created_at = Column(DateTime, nullable=False)


class StoreMeta(Base):
    """Key/value facts about the store itself (e.g. the day the demo data was seeded)."""

    __tablename__ = "store_meta"

    key = Column(String(64), primary_key=True)
    value = Column(String(256), nullable=False)
