"""Deterministic demo cardholders, seeded once into an empty store.

Dates are relative to the day of seeding so that every reminder of the goodbye message has a
cardholder that triggers it (see cards/README.md for the list).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cards.models import (
    ACTIVE,
    GOLD,
    INACTIVE,
    PLATINUM,
    STANDARD,
    AccountEvent,
    Card,
    Cardholder,
    PointsLot,
    Statement,
    StoreMeta,
    Transaction,
)
from cards.rules import DUE_AFTER_STATEMENT_DAYS, add_months, due_date_for

SEEDED_ON_KEY = "demo_seeded_on"


def statement_date_due_in(today: date, offsets: Sequence[int], avoid_day: int = 0) -> date:
    """A statement date whose due date is `offset` days from today, on a valid day (1-28).

    The first offset that gives a statement day of 1-28 (and not `avoid_day`) wins; among any
    four consecutive offsets at least one qualifies.
    """
    for offset in offsets:
        candidate = today + timedelta(days=offset - DUE_AFTER_STATEMENT_DAYS)
        if candidate.day <= 28 and candidate.day != avoid_day:
            return candidate
    raise ValueError("no valid statement day for these offsets")


def last_statement_date(statement_day: int, today: date) -> date:
    """The most recent statement date strictly before today."""
    this_month = today.replace(day=statement_day)
    return this_month if this_month < today else add_months(this_month, -1)


@dataclass
class DemoCard:
    """A card of a demo cardholder."""

    last4: str
    tier: str
    status: str
    opened_on: date
    annual_fee_next_on: date | None
    swipes: int


@dataclass
class DemoHolder:
    """Everything seeded for one demo cardholder."""

    user_id: str
    name: str
    tier: str
    id_last6: str
    statement_date: date  # the latest statement
    statement_day_changed_on: date | None
    limit_yuan: int
    temp_max_yuan: int
    cards: list[DemoCard]
    billed: list[tuple[int, str, int]]  # (days after previous statement, merchant, fen)
    unbilled: list[tuple[int, str, int]]  # (days after latest statement, merchant, fen)
    paid_fen: int
    points: list[tuple[int, date]]
    temp_limit: tuple[int, date] | None = None
    previous_total_fen: int = 0


def demo_holders(today: date) -> list[DemoHolder]:
    """The demo cardholders for a store seeded on `today`."""
    month_end = add_months(today.replace(day=1), 1) - timedelta(days=1)
    two_years = add_months(today, 24)

    # Gold 001: bill due within 3 days, never changed its statement day, not on the 15th
    # (the README example moves it to the 15th).
    gold1_stmt = statement_date_due_in(today, (2, 1, 3, 0), avoid_day=15)
    gold1_billed = [(3, "海底捞火锅", 680_00), (9, "苹果官网", 8999_00),
                    (15, "携程旅行", 2350_00), (22, "盒马鲜生", 651_00)]
    std1_stmt = statement_date_due_in(today, (14, 13, 15, 12, 16))
    std1_billed = [(2, "美宜佳便利店", 45_60), (6, "中国石化加油站", 300_00),
                   (11, "优衣库", 899_00), (17, "网易严选", 651_00), (25, "电影院", 450_00)]
    std2_stmt = statement_date_due_in(today, (20, 19, 21, 18, 22))
    return [
        DemoHolder(
            user_id="demo-standard-001", name="张伟", tier=STANDARD, id_last6="110011",
            statement_date=std1_stmt, statement_day_changed_on=None,
            limit_yuan=10_000, temp_max_yuan=3_000,
            cards=[DemoCard("3001", STANDARD, ACTIVE, add_months(today, -24) + timedelta(days=25),
                            today + timedelta(days=25), 3)],
            billed=std1_billed,
            unbilled=[(1, "京东商城", 1299_00), (2, "美团外卖", 45_50), (3, "滴滴出行", 32_00)],
            paid_fen=0, points=[(3_200, two_years)], previous_total_fen=1880_00,
        ),
        DemoHolder(
            user_id="demo-gold-001", name="李娜", tier=GOLD, id_last6="520133",
            statement_date=gold1_stmt, statement_day_changed_on=today - timedelta(days=400),
            limit_yuan=50_000, temp_max_yuan=20_000,
            cards=[DemoCard("8801", GOLD, ACTIVE, add_months(today, -36) + timedelta(days=160),
                            today + timedelta(days=160), 12)],
            billed=gold1_billed,
            unbilled=[(1, "宜家家居", 3299_00), (2, "星巴克", 38_00)],
            paid_fen=0,
            points=[(20_000, add_months(today, 11)), (38_000, two_years)],
            previous_total_fen=6420_00,
        ),
        DemoHolder(
            user_id="demo-platinum-001", name="王芳", tier=PLATINUM, id_last6="31002X",
            statement_date=last_statement_date(10, today),
            statement_day_changed_on=today - timedelta(days=60),
            limit_yuan=200_000, temp_max_yuan=100_000,
            cards=[DemoCard("6601", PLATINUM, ACTIVE, add_months(today, -48) + timedelta(days=90),
                            today + timedelta(days=90), 40)],
            billed=[(4, "国航官网", 6820_00), (12, "万豪酒店", 3560_00), (20, "SKP商场", 12800_00)],
            unbilled=[(1, "山姆会员店", 1580_00)],
            paid_fen=23180_00,
            points=[(60_000, add_months(month_end, 2)), (200_000, two_years)],
            temp_limit=(50_000_00, today + timedelta(days=5)),
            previous_total_fen=18600_00,
        ),
        DemoHolder(
            user_id="demo-gold-002", name="赵强", tier=GOLD, id_last6="440305",
            statement_date=last_statement_date(18, today), statement_day_changed_on=None,
            limit_yuan=30_000, temp_max_yuan=10_000,
            cards=[
                DemoCard("7702", GOLD, ACTIVE, add_months(today, -36) + timedelta(days=200),
                         today + timedelta(days=200), 11),
                # Renewal card mailed a few days ago and not yet activated.
                DemoCard("7703", GOLD, INACTIVE, today - timedelta(days=5), None, 0),
            ],
            billed=[(5, "沃尔玛", 420_00), (14, "中国联通", 199_00)],
            unbilled=[(2, "肯德基", 56_00)],
            paid_fen=619_00, points=[(12_000, two_years)], previous_total_fen=980_00,
        ),
        DemoHolder(
            user_id="demo-standard-002", name="陈静", tier=STANDARD, id_last6="210012",
            statement_date=std2_stmt, statement_day_changed_on=None,
            limit_yuan=8_000, temp_max_yuan=2_000,
            cards=[DemoCard("4402", STANDARD, ACTIVE, add_months(today, -20) + timedelta(days=300),
                            today + timedelta(days=300), 6)],
            billed=[(3, "屈臣氏", 268_00), (10, "拼多多", 132_50), (16, "瑞幸咖啡", 29_00)],
            unbilled=[(1, "永辉超市", 186_30)],
            paid_fen=0, points=[(1_500, month_end), (7_100, two_years)],
            previous_total_fen=760_00,
        ),
    ]


def seed_demo_data(session: Session, today: date) -> int:
    """Insert the demo cardholders into an empty store; returns how many were added."""
    if session.scalar(select(func.count()).select_from(Cardholder)):
        return 0
    holders = demo_holders(today)
    for demo in holders:
        _add_holder(session, demo, today)
    session.add(StoreMeta(key=SEEDED_ON_KEY, value=today.isoformat()))
    return len(holders)


def _add_holder(session: Session, demo: DemoHolder, today: date) -> None:
    stmt_date = demo.statement_date
    prev_date = add_months(stmt_date, -1)
    total = sum(fen for _, _, fen in demo.billed)
    unbilled_total = sum(fen for _, _, fen in demo.unbilled)
    temp_fen, temp_end = demo.temp_limit or (0, None)
    holder = Cardholder(
        user_id=demo.user_id, name=demo.name, tier=demo.tier, id_last6=demo.id_last6,
        statement_day=stmt_date.day, statement_day_changed_on=demo.statement_day_changed_on,
        credit_limit_fen=demo.limit_yuan * 100, temp_limit_fen=temp_fen, temp_limit_end=temp_end,
        temp_limit_max_fen=demo.temp_max_yuan * 100,
        balance_fen=total - demo.paid_fen + unbilled_total,
        customer_since=min(c.opened_on for c in demo.cards),
    )
    session.add(holder)
    session.flush()
    cards = []
    for demo_card in demo.cards:
        card = Card(
            cardholder_id=holder.id, last4=demo_card.last4, tier=demo_card.tier,
            status=demo_card.status, opened_on=demo_card.opened_on,
            activated_on=demo_card.opened_on if demo_card.status == ACTIVE else None,
            annual_fee_next_on=demo_card.annual_fee_next_on,
            swipes_this_year=demo_card.swipes,
        )
        session.add(card)
        cards.append(card)
    session.flush()
    main_card = next(c for c in cards if c.status == ACTIVE)

    previous = Statement(
        cardholder_id=holder.id, statement_date=prev_date, due_date=due_date_for(prev_date),
        total_fen=demo.previous_total_fen, min_payment_fen=demo.previous_total_fen // 10,
        paid_fen=demo.previous_total_fen,
    )
    latest = Statement(
        cardholder_id=holder.id, statement_date=stmt_date, due_date=due_date_for(stmt_date),
        total_fen=total, min_payment_fen=total // 10, paid_fen=demo.paid_fen,
    )
    session.add_all([previous, latest])
    session.flush()
    for days, merchant, fen in demo.billed:
        session.add(Transaction(cardholder_id=holder.id, card_id=main_card.id,
                                posted_on=prev_date + timedelta(days=days), merchant=merchant,
                                amount_fen=fen, statement_id=latest.id))
    for days, merchant, fen in demo.unbilled:
        posted = min(stmt_date + timedelta(days=days), today)
        session.add(Transaction(cardholder_id=holder.id, card_id=main_card.id, posted_on=posted,
                                merchant=merchant, amount_fen=fen))
    if demo.paid_fen:
        session.add(Transaction(cardholder_id=holder.id, card_id=main_card.id,
                                posted_on=min(stmt_date + timedelta(days=3), today),
                                merchant="还款，谢谢", amount_fen=-demo.paid_fen))
    for points, expires in demo.points:
        session.add(PointsLot(cardholder_id=holder.id, points=points, expires_on=expires))
    session.add(AccountEvent(cardholder_id=holder.id, kind="seeded", detail="demo data",
                             created_at=datetime.combine(today, datetime.min.time())))
