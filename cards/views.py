"""Read-only views of a cardholder's accounts, and the eligibility checks built on them.

The views are plain dataclasses so that a bank's core system can return the same shapes. Each
check returns None when the request is allowed, otherwise the reason in Chinese, ready to be
shown; the dialogue uses them to explain early, the store runs them again inside its write
transaction so a change is never made against stale data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from cards import rules
from cards.models import ACTIVE, FROZEN, INACTIVE, LOST, PLATINUM
from cards.money import fen_to_yuan


class CardServiceError(Exception):
    """A change the rules do not allow; `message` is shown to the cardholder as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


STATUS_NAMES = {ACTIVE: "正常", INACTIVE: "未激活", FROZEN: "已冻结", LOST: "已挂失"}


@dataclass(frozen=True)
class CardView:
    """One card."""

    last4: str
    tier: str
    status: str
    opened_on: date
    activated_on: date | None
    annual_fee_next_on: date | None
    swipes_this_year: int

    @property
    def tier_name(self) -> str:
        """普卡 / 金卡 / 白金卡."""
        return rules.TIER_NAMES[self.tier]

    @property
    def label(self) -> str:
        """尾号8801的金卡."""
        return f"尾号{self.last4}的{self.tier_name}"


@dataclass(frozen=True)
class StatementView:
    """The latest statement."""

    statement_date: date
    due_date: date
    total_fen: int
    min_payment_fen: int
    paid_fen: int
    installed_fen: int

    @property
    def remaining_fen(self) -> int:
        """Still to pay on this statement (amounts moved into an instalment excluded)."""
        return max(0, self.total_fen - self.paid_fen - self.installed_fen)

    @property
    def min_remaining_fen(self) -> int:
        """Still to pay to avoid being overdue."""
        return min(self.remaining_fen, max(0, self.min_payment_fen - self.paid_fen))


@dataclass(frozen=True)
class TransactionView:
    """One posted transaction."""

    id: int
    posted_on: date
    merchant: str
    amount_fen: int
    card_last4: str
    billed: bool
    installed: bool

    @property
    def label(self) -> str:
        """11月20日 京东商城 1,299.00元."""
        return f"{rules.fmt_date(self.posted_on)} {self.merchant} {fen_to_yuan(self.amount_fen)}元"


@dataclass(frozen=True)
class ProfileView:
    """A cardholder with cards, limits, points and the latest statement."""

    user_id: str
    name: str
    tier: str
    statement_day: int
    statement_day_changed_on: date | None
    credit_limit_fen: int
    temp_limit_fen: int
    temp_limit_end: date | None
    temp_limit_max_fen: int
    balance_fen: int
    cards: tuple[CardView, ...]
    points_lots: tuple[tuple[int, date], ...]
    latest_statement: StatementView | None
    unbilled: tuple[TransactionView, ...] = field(default_factory=tuple)
    old_day_closes_on: date | None = None

    def next_statement_date(self, today: date) -> date:
        """The next statement date, honouring a change that takes effect next cycle."""
        if self.old_day_closes_on and self.old_day_closes_on >= today:
            return self.old_day_closes_on
        return rules.next_statement_date(self.statement_day, today)

    @property
    def tier_name(self) -> str:
        """普卡 / 金卡 / 白金卡."""
        return rules.TIER_NAMES[self.tier]

    def card(self, last4: str | None) -> CardView | None:
        """The cardholder's card with these last four digits."""
        return next((c for c in self.cards if c.last4 == last4), None)

    def cards_with_status(self, *statuses: str) -> list[CardView]:
        """Cards in any of these states."""
        return [c for c in self.cards if c.status in statuses]

    def points_balance(self, today: date) -> int:
        """Points not yet expired."""
        return sum(p for p, expires in self.points_lots if expires >= today)

    def points_expiring_this_month(self, today: date) -> tuple[int, date | None]:
        """(points, last day) expiring between today and the end of this month."""
        lots = [(p, e) for p, e in self.points_lots
                if e >= today and (e.year, e.month) == (today.year, today.month)]
        if not lots:
            return 0, None
        return sum(p for p, _ in lots), max(e for _, e in lots)

    def active_temp_limit_fen(self, today: date) -> int:
        """The temporary increase in force today (0 when none)."""
        if self.temp_limit_fen and self.temp_limit_end and self.temp_limit_end >= today:
            return self.temp_limit_fen
        return 0

    def available_fen(self, today: date) -> int:
        """Credit still available today."""
        return max(0, self.credit_limit_fen + self.active_temp_limit_fen(today) - self.balance_fen)


# --- eligibility checks (None = allowed) ------------------------------------------------------


def statement_change_block(profile: ProfileView, today: date) -> str | None:
    """Statement day may be changed once every 6 months."""
    allowed_from = rules.statement_change_allowed_from(profile.statement_day_changed_on)
    if allowed_from and today < allowed_from:
        changed = profile.statement_day_changed_on
        assert changed is not None
        return (f"您上次修改账单日是在{rules.fmt_date(changed, True)}，账单日每6个月只能修改1次，"
                f"{rules.fmt_date(allowed_from, True)}起可以再次修改。")
    return None


def new_statement_day_error(profile: ProfileView | None, day: int) -> str | None:
    """The new day must be 1-28 and differ from the current one."""
    if not rules.STATEMENT_DAY_MIN <= day <= rules.STATEMENT_DAY_MAX:
        return "账单日只能选择每月1日至28日，请重新选择一个日期。"
    if profile and day == profile.statement_day:
        return f"您的账单日已经是每月{day}日了，请选择一个不同的日期。"
    return None


def bill_installment_block(profile: ProfileView, today: date) -> str | None:
    """Bill instalment: at least 500 yuan unpaid, applied for at least 1 day before the due date."""
    stmt = profile.latest_statement
    if stmt is None:
        return "您目前还没有已出的账单，暂时无法办理账单分期。"
    if stmt.installed_fen:
        return f"您{rules.fmt_date(stmt.statement_date)}的账单已经办理过账单分期了。"
    if stmt.remaining_fen < rules.BILL_INSTALLMENT_MIN_FEN:
        return (f"账单分期要求已出账单未还金额不低于500元，您本期未还金额为"
                f"{fen_to_yuan(stmt.remaining_fen)}元，暂不符合条件。")
    if (stmt.due_date - today).days < 1:
        return (f"账单分期须在到期还款日（{rules.fmt_date(stmt.due_date)}）前至少1天申请，"
                "本期已过申请时间。您可以先按最低还款额还款，避免逾期。")
    return None


def bill_installment_amount_error(profile: ProfileView, amount_fen: int) -> str | None:
    """Amount between 500 yuan and what is still unpaid on the statement."""
    stmt = profile.latest_statement
    top = stmt.remaining_fen if stmt else 0
    if amount_fen < rules.BILL_INSTALLMENT_MIN_FEN:
        return "账单分期金额不能低于500元，请重新输入。"
    if amount_fen > top:
        return f"分期金额不能超过本期未还金额{fen_to_yuan(top)}元，请重新输入。"
    return None


def periods_error(periods: int) -> str | None:
    """Only 3, 6, 12 or 24 periods."""
    if periods not in rules.INSTALLMENT_RATES_BP:
        return "分期期数可选3期、6期、12期或24期，请重新选择。"
    return None


def single_installment_candidates(profile: ProfileView) -> list[TransactionView]:
    """Unbilled purchases of at least 600 yuan not yet in a plan."""
    return [t for t in profile.unbilled
            if t.amount_fen >= rules.SINGLE_INSTALLMENT_MIN_FEN and not t.installed]


def single_installment_block(profile: ProfileView) -> str | None:
    """At least one purchase must qualify."""
    if not single_installment_candidates(profile):
        return ("您目前没有可以办理单笔分期的消费：单笔消费需满600元，且须在入账后、"
                "出账单前申请。已出账单的消费可以办理账单分期。")
    return None


def redeem_block(profile: ProfileView, today: date) -> str | None:
    """Enough points for at least the cheapest item."""
    cheapest = min(item.points for item in rules.CATALOGUE)
    balance = profile.points_balance(today)
    if balance < cheapest:
        return (f"您当前可用积分为{balance:,}分，积分商城最低兑换需要{cheapest:,}分，"
                "暂时还不能兑换。每消费1元积1分，多多用卡积分会很快攒起来哦。")
    return None


def redeem_item_error(profile: ProfileView, item: rules.CatalogueItem, today: date) -> str | None:
    """The item must be affordable."""
    balance = profile.points_balance(today)
    if balance < item.points:
        return (f"兑换{item.name}需要{item.points:,}积分，您当前可用积分为{balance:,}分，"
                "积分不足，请换一个礼品。")
    return None


def temp_limit_block(profile: ProfileView, today: date) -> str | None:
    """No temporary limit in force, some pre-approved room, and a usable card."""
    if profile.active_temp_limit_fen(today):
        assert profile.temp_limit_end is not None
        return (f"您已有临时额度{fen_to_yuan(profile.temp_limit_fen)}元，有效期至"
                f"{rules.fmt_date(profile.temp_limit_end, True)}，到期后可以再次申请。")
    if profile.temp_limit_max_fen < rules.TEMP_LIMIT_MIN_FEN:
        return "根据您的用卡情况，暂时无法在线申请临时额度，建议保持良好用卡记录后再试。"
    if not profile.cards_with_status(ACTIVE):
        return "您名下没有状态正常的卡片，暂时无法申请临时额度。"
    return None


def temp_limit_amount_error(profile: ProfileView, amount_fen: int) -> str | None:
    """Between 1,000 yuan and the pre-approved maximum, in whole hundreds."""
    top = profile.temp_limit_max_fen
    if amount_fen < rules.TEMP_LIMIT_MIN_FEN:
        return "临时额度最低申请1,000元，请重新输入。"
    if amount_fen > top:
        return f"您最高可申请{fen_to_yuan(top)}元的临时额度，请输入不超过这个金额的数字。"
    if amount_fen % rules.TEMP_LIMIT_STEP_FEN:
        return "临时额度需为100元的整数倍，请重新输入。"
    return None


def lost_candidates(profile: ProfileView) -> list[CardView]:
    """Cards that can still be reported lost."""
    return profile.cards_with_status(ACTIVE, FROZEN, INACTIVE)


def freeze_candidates(profile: ProfileView) -> list[CardView]:
    """Cards that can be locked."""
    return profile.cards_with_status(ACTIVE)


def activation_candidates(profile: ProfileView) -> list[CardView]:
    """Cards waiting for activation."""
    return profile.cards_with_status(INACTIVE)


def card_error(profile: ProfileView, last4: str, purpose: str) -> str | None:
    """Is this card one of the cardholder's, in a state that allows `purpose`?"""
    card = profile.card(last4)
    if card is None:
        return f"没有找到您名下尾号{last4}的信用卡，请核对后重新输入卡号后四位。"
    allowed = {"lost": lost_candidates, "freeze": freeze_candidates,
               "activate": activation_candidates}[purpose](profile)
    if card in allowed:
        return None
    status = STATUS_NAMES[card.status]
    if purpose == "activate":
        return f"{card.label}状态为“{status}”，不需要激活。"
    if purpose == "freeze" and card.status == FROZEN:
        return f"{card.label}已经是冻结状态了，如需解冻可在App“卡片管理”中自助解锁。"
    return f"{card.label}当前状态为“{status}”，无法办理。"


def no_card_message(purpose: str) -> str:
    """Why a card flow cannot start at all."""
    return {
        "lost": "您名下没有可以挂失的卡片（卡片均已挂失）。如需帮助请转人工客服。",
        "freeze": "您名下没有状态正常、可以冻结的卡片。",
        "activate": "您名下没有待激活的卡片，所有卡片都已激活。",
    }[purpose]


def reissue_fee_fen(card: CardView) -> int:
    """20 yuan for standard and gold, free for platinum."""
    return rules.REISSUE_FEE_FEN[card.tier]


def annual_fee_status(card: CardView, today: date, points: int) -> str:
    """One line about a card's annual fee and how to have the next one waived."""
    fee = rules.ANNUAL_FEE_FEN[card.tier]
    if card.status == INACTIVE:
        return f"{card.label}尚未激活，未激活的新卡不收年费。"
    if card.status == LOST:
        return f"{card.label}已挂失，不再收取年费。"
    parts = [f"{card.label}年费{fen_to_yuan(fee)}元/年（首年免年费）"]
    if card.annual_fee_next_on:
        parts.append(f"下次年费收取日为{rules.fmt_date(card.annual_fee_next_on, True)}")
    if card.tier == PLATINUM:
        enough = "您当前积分足够抵扣" if points >= rules.PLATINUM_FEE_POINTS else "您当前积分尚不足"
        parts.append(f"白金卡年费可用{rules.PLATINUM_FEE_POINTS:,}积分抵扣，{enough}")
    else:
        need = rules.SWIPES_TO_WAIVE[card.tier]
        left = max(0, need - card.swipes_this_year)
        if left:
            parts.append(f"本年度刷卡满{need}次可免次年年费，您已刷{card.swipes_this_year}次，"
                         f"再刷{left}次即可免年费")
        else:
            parts.append(f"本年度已刷卡{card.swipes_this_year}次，已满足{need}次的条件，次年年费全免")
    return "，".join(parts) + "。"
