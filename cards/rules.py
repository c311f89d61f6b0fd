"""The bank's product rules (knowledge_base/seed/FACTS.md) as code: fees, limits, dates.

Pure functions with no I/O, shared by the store (which enforces them inside its write
transaction) and the dialogue (which explains them before asking for a confirmation).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from cards.models import GOLD, PLATINUM, STANDARD

TIER_NAMES: dict[str, str] = {STANDARD: "普卡", GOLD: "金卡", PLATINUM: "白金卡"}

# Statement day: any day 1-28, changed at most once every 6 months.
STATEMENT_DAY_MIN = 1
STATEMENT_DAY_MAX = 28
STATEMENT_CHANGE_INTERVAL_MONTHS = 6
# Due date = statement date + 25 days.
DUE_AFTER_STATEMENT_DAYS = 25

# Instalments: fee per period, in hundredths of a percent (0.80% -> 80).
INSTALLMENT_RATES_BP: dict[int, int] = {3: 80, 6: 75, 12: 70, 24: 68}
BILL_INSTALLMENT_MIN_FEN = 500_00
SINGLE_INSTALLMENT_MIN_FEN = 600_00

# Temporary limit: 30 days, whole hundreds of yuan.
TEMP_LIMIT_DAYS = 30
TEMP_LIMIT_STEP_FEN = 100_00
TEMP_LIMIT_MIN_FEN = 1000_00

# Replacement card after a loss: 20 yuan for standard and gold, free for platinum.
REISSUE_FEE_FEN: dict[str, int] = {STANDARD: 20_00, GOLD: 20_00, PLATINUM: 0}

# Annual fee; first year free; enough card uses in a year waive the next year's fee.
ANNUAL_FEE_FEN: dict[str, int] = {STANDARD: 100_00, GOLD: 300_00, PLATINUM: 3600_00}
SWIPES_TO_WAIVE: dict[str, int] = {STANDARD: 5, GOLD: 10}
PLATINUM_FEE_POINTS = 200_000

# Reminders look this far ahead.
PAYMENT_REMINDER_DAYS = 3
TEMP_LIMIT_REMINDER_DAYS = 7
ANNUAL_FEE_REMINDER_DAYS = 30


@dataclass(frozen=True)
class CatalogueItem:
    """A points-mall item that can be redeemed in the chat."""

    code: str
    name: str
    points: int
    keywords: tuple[str, ...]


# 12 points = 1 km of air miles (FACTS.md); the other prices are the demo mall's.
CATALOGUE: tuple[CatalogueItem, ...] = (
    CatalogueItem("miles_1000", "航空里程 1,000 公里", 12_000, ("里程", "航空", "飞行")),
    CatalogueItem("video_month", "视频会员月卡", 3_000,
                  ("视频", "会员", "爱奇艺", "腾讯", "优酷", "芒果")),
    CatalogueItem("phone_50", "话费充值 50 元", 5_000, ("话费", "电话费", "充值")),
    CatalogueItem("fuel_100", "加油卡 100 元", 10_000, ("加油", "油卡", "中石化", "中石油")),
    CatalogueItem("movie_1", "电影票兑换券 1 张", 4_000, ("电影", "观影")),
    CatalogueItem("luggage_20", "20 寸拉杆行李箱", 45_000, ("行李箱", "拉杆箱", "旅行箱", "箱子")),
)


def catalogue_item(text: str | None) -> CatalogueItem | None:
    """The catalogue item a user's words (or a synonym-mapped entity value) refer to."""
    if not text:
        return None
    for item in CATALOGUE:
        if text == item.code or text == item.name:
            return item
    for item in CATALOGUE:
        if any(word in text for word in item.keywords):
            return item
    return None


@dataclass(frozen=True)
class InstallmentQuote:
    """What an instalment plan costs: fee per period and the first month's payment."""

    principal_fen: int
    periods: int
    rate_bp: int
    fee_per_period_fen: int
    total_fee_fen: int
    first_principal_fen: int
    principal_per_period_fen: int

    @property
    def rate_text(self) -> str:
        """0.80% style."""
        return f"{Decimal(self.rate_bp) / 100:.2f}%"

    @property
    def first_payment_fen(self) -> int:
        """Principal and fee due in the first period (it absorbs the rounding remainder)."""
        return self.first_principal_fen + self.fee_per_period_fen


def quote_installment(principal_fen: int, periods: int) -> InstallmentQuote:
    """Fee per period = principal x rate, rounded half up to the fen."""
    if periods not in INSTALLMENT_RATES_BP:
        raise ValueError(f"unsupported number of periods: {periods}")
    rate_bp = INSTALLMENT_RATES_BP[periods]
    fee = int((Decimal(principal_fen) * rate_bp / Decimal(10_000)).quantize(Decimal(1),
                                                                             ROUND_HALF_UP))
    per_period = principal_fen // periods
    first = principal_fen - per_period * (periods - 1)
    return InstallmentQuote(principal_fen, periods, rate_bp, fee, fee * periods, first, per_period)


def add_months(day: date, months: int) -> date:
    """Same day `months` later, clamped to the month's end."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date_for(statement_date: date) -> date:
    """Due date of a statement."""
    return statement_date + timedelta(days=DUE_AFTER_STATEMENT_DAYS)


def next_statement_date(statement_day: int, today: date) -> date:
    """The next statement date on or after today for a statement day of 1-28."""
    this_month = today.replace(day=statement_day)
    return this_month if this_month >= today else add_months(this_month, 1)


def first_statement_on_new_day(old_day: int, new_day: int, today: date) -> tuple[date, date]:
    """(statement still on the old day, first statement on the new day) for a change today.

    The cycle that is running closes on the old day; the change applies from the next cycle,
    which may therefore be shorter or longer than a month once.
    """
    closing = next_statement_date(old_day, today)
    first_new = closing.replace(day=new_day)
    if first_new <= closing:
        first_new = add_months(first_new, 1)
    return closing, first_new


def statement_change_allowed_from(changed_on: date | None) -> date | None:
    """First day the statement day may be changed again (None: never changed)."""
    if changed_on is None:
        return None
    return add_months(changed_on, STATEMENT_CHANGE_INTERVAL_MONTHS)


def temp_limit_end(today: date) -> date:
    """Last day a temporary limit granted today is valid."""
    return today + timedelta(days=TEMP_LIMIT_DAYS)


def fmt_date(day: date, with_year: bool = False) -> str:
    """2024年12月5日 / 12月5日."""
    if with_year:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.month}月{day.day}日"
