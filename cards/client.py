"""The card-account interface the actions use, and its SQL implementation.

`CardAccountClient` is what a bank would implement against its core system; the
`SqlCardAccountClient` here serves the demo store (SQLite by default, `CARD_DB_URL`). Every
change runs in one transaction that re-checks the rules first, so a refused or failed change
leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cards import rules, views
from cards.models import (
    ACTIVE,
    FROZEN,
    INACTIVE,
    LOST,
    AccountEvent,
    Card,
    Cardholder,
    InstallmentPlan,
    PointsLot,
    Redemption,
    Statement,
    Transaction,
)
from cards.money import fen_to_yuan
from cards.seed import seed_demo_data
from cards.views import CardServiceError, ProfileView

logger = logging.getLogger(__name__)


class CardStoreNotMigrated(RuntimeError):
    """The store's database has no schema yet (its migrations were not run)."""


@dataclass(frozen=True)
class StatementDayChanged:
    """Result of a statement-day change."""

    old_day: int
    new_day: int
    closing_date: date  # the statement still issued on the old day
    first_new_date: date  # the first statement on the new day


@dataclass(frozen=True)
class InstallmentCreated:
    """Result of a bill or single-purchase instalment."""

    kind: str
    quote: rules.InstallmentQuote
    description: str


@dataclass(frozen=True)
class PointsRedeemed:
    """Result of a points redemption."""

    item: rules.CatalogueItem
    points_left: int


@dataclass(frozen=True)
class TempLimitGranted:
    """Result of a temporary-limit application."""

    amount_fen: int
    end: date
    available_fen: int


@dataclass(frozen=True)
class CardReportedLost:
    """Result of a loss report (with or without a replacement card)."""

    last4: str
    tier: str
    new_last4: str | None
    fee_fen: int


@dataclass(frozen=True)
class CardChanged:
    """Result of freezing or activating a card."""

    last4: str
    tier: str


class CardAccountClient(Protocol):
    """What the dialogue needs from the bank's card system."""

    def today(self) -> date:
        """The business date."""

    def profile(self, user_id: str) -> ProfileView | None:
        """The cardholder behind a channel user id, or None."""

    def verify_identity(self, user_id: str, card_last4: str, id_last6: str) -> bool:
        """True when the card is the user's and the ID number ends with id_last6."""

    def recent_transactions(self, user_id: str, limit: int = 5) -> list[views.TransactionView]:
        """Newest transactions first."""

    def change_statement_day(self, user_id: str, new_day: int) -> StatementDayChanged:
        """Move the statement day (effective from the next cycle)."""

    def create_bill_installment(self, user_id: str, amount_fen: int,
                                periods: int) -> InstallmentCreated:
        """Turn part or all of the latest statement into an instalment plan."""

    def create_single_installment(self, user_id: str, transaction_id: int,
                                  periods: int) -> InstallmentCreated:
        """Turn one unbilled purchase into an instalment plan."""

    def redeem_points(self, user_id: str, item_code: str) -> PointsRedeemed:
        """Spend points on a catalogue item, oldest-expiring points first."""

    def apply_temp_limit(self, user_id: str, amount_fen: int) -> TempLimitGranted:
        """Grant a 30-day temporary increase."""

    def report_lost(self, user_id: str, card_last4: str, reissue: bool) -> CardReportedLost:
        """Invalidate a card at once and optionally order a replacement."""

    def freeze_card(self, user_id: str, card_last4: str) -> CardChanged:
        """Temporarily lock a card."""

    def activate_card(self, user_id: str, card_last4: str) -> CardChanged:
        """Activate a newly issued card."""


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):])
    return None


def make_engine(url: str) -> Engine:
    """An engine for the store; SQLite files get their directory, WAL and foreign keys."""
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, future=True,
                               connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if path is not None:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


class SqlCardAccountClient:
    """`CardAccountClient` over the SQLAlchemy demo store."""

    def __init__(self, engine: Engine, today: Callable[[], date] = date.today) -> None:
        self._engine = engine
        self._today = today
        self._ready = False

    # --- plumbing ---------------------------------------------------------------------------

    def today(self) -> date:
        """The business date (injectable for tests)."""
        return self._today()

    def ensure_ready(self) -> None:
        """Seed the demo data once (safe if another process races us). The tables come from the
        migrations (`python -m cards migrate`, run by `make run` / deploys), never from here."""
        if self._ready:
            return
        if not inspect(self._engine).has_table(Cardholder.__tablename__):
            raise CardStoreNotMigrated(
                "the card-account store has no tables: run `python -m api migrate` (service "
                "runtime) or `python -m cards migrate --url <CARD_DB_URL>` first")
        try:
            with Session(self._engine, future=True) as session, session.begin():
                added = seed_demo_data(session, self.today())
            if added:
                logger.info("Seeded %d demo cardholders", added)
        except IntegrityError:
            logger.info("Demo data was seeded by another process")
        self._ready = True

    def _session(self) -> Session:
        self.ensure_ready()
        return Session(self._engine, future=True)

    @staticmethod
    def _holder(session: Session, user_id: str, lock: bool = False) -> Cardholder:
        stmt = select(Cardholder).where(Cardholder.user_id == user_id)
        if lock:
            stmt = stmt.with_for_update()  # a no-op on SQLite, row lock on PostgreSQL
        holder = session.scalars(stmt).first()
        if holder is None:
            raise CardServiceError.of("no_account")
        return holder

    @staticmethod
    def _find_holder(session: Session, user_id: str) -> Cardholder | None:
        return session.scalars(select(Cardholder).where(Cardholder.user_id == user_id)).first()

    @staticmethod
    def _card(session: Session, holder: Cardholder, last4: str) -> Card:
        card = session.scalars(select(Card).where(Card.cardholder_id == holder.id,
                                                  Card.last4 == last4)).first()
        if card is None:
            raise CardServiceError.of("card_not_found", last4=last4)
        return card

    @staticmethod
    def _latest_statement(session: Session, holder: Cardholder) -> Statement | None:
        return session.scalars(
            select(Statement).where(Statement.cardholder_id == holder.id)
            .order_by(Statement.statement_date.desc())
        ).first()

    @staticmethod
    def _event(session: Session, holder: Cardholder, kind: str, detail: str) -> None:
        session.add(AccountEvent(cardholder_id=holder.id, kind=kind, detail=detail,
                                 created_at=datetime.now()))

    def _view(self, session: Session, holder: Cardholder) -> ProfileView:
        cards = {c.id: c for c in holder.cards}
        stmt = self._latest_statement(session, holder)
        unbilled = session.scalars(
            select(Transaction).where(Transaction.cardholder_id == holder.id,
                                      Transaction.statement_id.is_(None),
                                      Transaction.amount_fen > 0)
            .order_by(Transaction.posted_on.desc(), Transaction.id.desc())
        ).all()
        lots = session.scalars(
            select(PointsLot).where(PointsLot.cardholder_id == holder.id, PointsLot.points > 0)
            .order_by(PointsLot.expires_on)
        ).all()
        return ProfileView(
            user_id=holder.user_id, name=holder.name, tier=holder.tier,
            statement_day=holder.statement_day,
            statement_day_changed_on=holder.statement_day_changed_on,
            credit_limit_fen=holder.credit_limit_fen, temp_limit_fen=holder.temp_limit_fen,
            temp_limit_end=holder.temp_limit_end, temp_limit_max_fen=holder.temp_limit_max_fen,
            balance_fen=holder.balance_fen,
            cards=tuple(views.CardView(c.last4, c.tier, c.status, c.opened_on, c.activated_on,
                                       c.annual_fee_next_on, c.swipes_this_year)
                        for c in cards.values()),
            points_lots=tuple((lot.points, lot.expires_on) for lot in lots),
            latest_statement=views.StatementView(
                stmt.statement_date, stmt.due_date, stmt.total_fen, stmt.min_payment_fen,
                stmt.paid_fen, stmt.installed_fen) if stmt else None,
            unbilled=tuple(self._txn_view(t, cards) for t in unbilled),
            old_day_closes_on=holder.old_day_closes_on,
        )

    @staticmethod
    def _txn_view(txn: Transaction, cards: dict) -> views.TransactionView:
        return views.TransactionView(
            id=txn.id, posted_on=txn.posted_on, merchant=txn.merchant, amount_fen=txn.amount_fen,
            card_last4=cards[txn.card_id].last4 if txn.card_id in cards else "",
            billed=txn.statement_id is not None, installed=txn.installment_plan_id is not None,
        )

    def _locked_view(self, session: Session, user_id: str) -> tuple[Cardholder, ProfileView]:
        holder = self._holder(session, user_id, lock=True)
        return holder, self._view(session, holder)

    @staticmethod
    def _check(rule: Callable[..., str | None], *args: Any) -> None:
        """Run an eligibility rule of cards.views; its reason, in both languages, refuses."""
        reason = rule(*args)
        if reason:
            raise CardServiceError(reason, rule(*args, lang="en"))

    # --- reads ------------------------------------------------------------------------------

    def profile(self, user_id: str) -> ProfileView | None:
        """The cardholder behind a channel user id, or None."""
        with self._session() as session:
            holder = self._find_holder(session, user_id)
            return self._view(session, holder) if holder else None

    def verify_identity(self, user_id: str, card_last4: str, id_last6: str) -> bool:
        """Card last-4 of any of the user's cards plus the last 6 of the ID number."""
        with self._session() as session:
            holder = self._find_holder(session, user_id)
            if holder is None:
                return False
            has_card = any(c.last4 == card_last4 for c in holder.cards)
            return has_card and holder.id_last6.upper() == (id_last6 or "").upper()

    def recent_transactions(self, user_id: str, limit: int = 5) -> list[views.TransactionView]:
        """Newest transactions first."""
        with self._session() as session:
            holder = self._holder(session, user_id)
            cards = {c.id: c for c in holder.cards}
            rows = session.scalars(
                select(Transaction).where(Transaction.cardholder_id == holder.id)
                .order_by(Transaction.posted_on.desc(), Transaction.id.desc()).limit(limit)
            ).all()
            return [self._txn_view(t, cards) for t in rows]

    def events(self, user_id: str) -> list[tuple[str, str]]:
        """The audit trail of a cardholder, oldest first (for support staff and tests)."""
        with self._session() as session:
            holder = self._holder(session, user_id)
            rows = session.scalars(select(AccountEvent).where(
                AccountEvent.cardholder_id == holder.id).order_by(AccountEvent.id)).all()
            return [(e.kind, e.detail) for e in rows]

    # --- changes (one transaction each) ------------------------------------------------------

    def change_statement_day(self, user_id: str, new_day: int) -> StatementDayChanged:
        """Move the statement day; the running cycle still closes on the old day."""
        today = self.today()
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.statement_change_block, profile, today)
            self._check(views.new_statement_day_error, profile, new_day)
            old_day = holder.statement_day
            closing, first_new = rules.first_statement_on_new_day(old_day, new_day, today)
            holder.statement_day = new_day
            holder.statement_day_changed_on = today
            holder.old_day_closes_on = closing
            self._event(session, holder, "statement_day_changed", f"{old_day}->{new_day}")
        return StatementDayChanged(old_day, new_day, closing, first_new)

    def create_bill_installment(self, user_id: str, amount_fen: int,
                                periods: int) -> InstallmentCreated:
        """Move `amount_fen` of the latest statement into a plan of `periods` periods."""
        today = self.today()
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.bill_installment_block, profile, today)
            self._check(views.bill_installment_amount_error, profile, amount_fen)
            self._check(views.periods_error, periods)
            stmt = self._latest_statement(session, holder)
            assert stmt is not None
            quote = rules.quote_installment(amount_fen, periods)
            plan = InstallmentPlan(cardholder_id=holder.id, kind="bill", principal_fen=amount_fen,
                                   periods=periods, rate_per_period_bp=quote.rate_bp,
                                   fee_per_period_fen=quote.fee_per_period_fen, created_on=today)
            session.add(plan)
            session.flush()
            stmt.installed_fen = amount_fen
            stmt.installment_plan_id = plan.id
            # The minimum payment follows the smaller amount still due on this statement.
            left = stmt.total_fen - stmt.paid_fen - amount_fen
            stmt.min_payment_fen = min(stmt.min_payment_fen, stmt.paid_fen + max(0, left) // 10)
            self._event(session, holder, "bill_installment",
                        f"{amount_fen} fen x {periods} periods, plan {plan.id}")
            description = (f"{rules.fmt_date(stmt.statement_date)}账单中的"
                           f"{fen_to_yuan(amount_fen)}元")
        return InstallmentCreated("bill", quote, description)

    def create_single_installment(self, user_id: str, transaction_id: int,
                                  periods: int) -> InstallmentCreated:
        """Put one unbilled purchase of at least 600 yuan into a plan."""
        today = self.today()
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.periods_error, periods)
            candidate = next((t for t in views.single_installment_candidates(profile)
                              if t.id == transaction_id), None)
            if candidate is None:
                raise CardServiceError.of("single_not_eligible")
            txn = session.get(Transaction, transaction_id)
            assert txn is not None
            quote = rules.quote_installment(txn.amount_fen, periods)
            plan = InstallmentPlan(cardholder_id=holder.id, kind="single",
                                   principal_fen=txn.amount_fen, periods=periods,
                                   rate_per_period_bp=quote.rate_bp,
                                   fee_per_period_fen=quote.fee_per_period_fen, created_on=today)
            session.add(plan)
            session.flush()
            txn.installment_plan_id = plan.id
            self._event(session, holder, "single_installment",
                        f"txn {txn.id} x {periods} periods, plan {plan.id}")
        return InstallmentCreated("single", quote, candidate.label)

    def redeem_points(self, user_id: str, item_code: str) -> PointsRedeemed:
        """Spend points on an item, taking the soonest-expiring points first."""
        today = self.today()
        item = next((i for i in rules.CATALOGUE if i.code == item_code), None)
        if item is None:
            raise CardServiceError.of("item_unknown")
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.redeem_item_error, profile, item, today)
            lots = session.scalars(
                select(PointsLot).where(PointsLot.cardholder_id == holder.id,
                                        PointsLot.expires_on >= today, PointsLot.points > 0)
                .order_by(PointsLot.expires_on, PointsLot.id)
            ).all()
            needed = item.points
            for lot in lots:
                take = min(lot.points, needed)
                lot.points -= take
                needed -= take
                if not needed:
                    break
            session.add(Redemption(cardholder_id=holder.id, item_code=item.code,
                                   points=item.points, created_on=today))
            self._event(session, holder, "points_redeemed", f"{item.code} {item.points}")
            left = profile.points_balance(today) - item.points
        return PointsRedeemed(item, left)

    def apply_temp_limit(self, user_id: str, amount_fen: int) -> TempLimitGranted:
        """Grant a temporary increase valid for 30 days."""
        today = self.today()
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.temp_limit_block, profile, today)
            self._check(views.temp_limit_amount_error, profile, amount_fen)
            end = rules.temp_limit_end(today)
            holder.temp_limit_fen = amount_fen
            holder.temp_limit_end = end
            self._event(session, holder, "temp_limit_granted", f"{amount_fen} fen until {end}")
            available = holder.credit_limit_fen + amount_fen - holder.balance_fen
        return TempLimitGranted(amount_fen, end, max(0, available))

    def report_lost(self, user_id: str, card_last4: str, reissue: bool) -> CardReportedLost:
        """Invalidate the card now; with `reissue`, order a new number and charge the fee."""
        today = self.today()
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.card_error, profile, card_last4, "lost")
            card = self._card(session, holder, card_last4)
            card.status = LOST
            self._event(session, holder, "card_lost", card.last4)
            new_last4: str | None = None
            fee = 0
            if reissue:
                taken = {c.last4 for c in holder.cards}
                new_last4 = _new_last4(card.last4, card.id, taken)
                replacement = Card(cardholder_id=holder.id, last4=new_last4, tier=card.tier,
                                   status=INACTIVE, opened_on=today, replaces_card_id=card.id,
                                   swipes_this_year=0)
                session.add(replacement)
                fee = rules.REISSUE_FEE_FEN[card.tier]
                if fee:
                    session.add(Transaction(cardholder_id=holder.id, card_id=card.id,
                                            posted_on=today, merchant="补卡工本费",
                                            amount_fen=fee))
                    holder.balance_fen += fee
                self._event(session, holder, "card_reissued", f"{card.last4}->{new_last4}")
            result = CardReportedLost(card.last4, card.tier, new_last4, fee)
        return result

    def freeze_card(self, user_id: str, card_last4: str) -> CardChanged:
        """Lock an active card until the cardholder unlocks it in the App."""
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.card_error, profile, card_last4, "freeze")
            card = self._card(session, holder, card_last4)
            card.status = FROZEN
            self._event(session, holder, "card_frozen", card.last4)
            result = CardChanged(card.last4, card.tier)
        return result

    def activate_card(self, user_id: str, card_last4: str) -> CardChanged:
        """Activate a new card; its first annual fee falls a year from now."""
        today = self.today()
        with self._session() as session, session.begin():
            holder, profile = self._locked_view(session, user_id)
            self._check(views.card_error, profile, card_last4, "activate")
            card = self._card(session, holder, card_last4)
            card.status = ACTIVE
            card.activated_on = today
            card.annual_fee_next_on = rules.add_months(today, 12)
            self._event(session, holder, "card_activated", card.last4)
            result = CardChanged(card.last4, card.tier)
        return result


def _new_last4(old: str, seed: int, taken: set[str]) -> str:
    """A deterministic new last-4 for a replacement card that the cardholder does not have."""
    value = (int(old) + 1379 * seed) % 10_000
    while f"{value:04d}" in taken:
        value = (value + 1) % 10_000
    return f"{value:04d}"


@lru_cache(maxsize=8)
def client_for(url: str) -> CardAccountClient:
    """The process-wide client of the store at `url` (each runtime passes its CARD_DB_URL)."""
    return SqlCardAccountClient(make_engine(url))
