"""Read-only views of a cardholder's accounts, and the eligibility checks built on them.

The views are plain dataclasses so that a bank's core system can return the same shapes. Each
check returns None when the request is allowed, otherwise the reason in Chinese, ready to be
shown; the dialogue uses them to explain early, the store runs them again inside its write
transaction so a change is never made against stale data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from cards import rules, texts
from cards.models import ACTIVE, FROZEN, INACTIVE, LOST, PLATINUM
from cards.money import fen_to_yuan


class CardServiceError(Exception):
    """A change the rules do not allow; `message` (Chinese) and `message_en` are shown to the
    cardholder as they are, in the conversation's language (`in_language`)."""

    def __init__(self, message: str, message_en: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en or message

    @classmethod
    def of(cls, key: str, **fields: object) -> CardServiceError:
        """The refusal `key` of cards/texts.py, in both languages."""
        return cls(texts.text(key, "zh", **fields), texts.text(key, "en", **fields))

    def in_language(self, lang: str | None) -> str:
        return self.message_en if lang == "en" else self.message


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

    def label_in(self, lang: str = "zh") -> str:
        """尾号8801的金卡 / Gold card ending 8801."""
        return texts.card_label(self.last4, self.tier, lang)


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

    def label_in(self, lang: str = "zh") -> str:
        """11月20日 京东商城 1,299.00元 / 20 Nov JD.com 1,299.00 yuan."""
        if lang != "en":
            return self.label
        return (f"{texts.fmt_date(self.posted_on, lang)} "
                f"{texts.merchant_name(self.merchant, lang)} {fen_to_yuan(self.amount_fen)} yuan")


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
# Every message is in `lang` (the conversation's language, Chinese by default): the sentences
# live in cards/texts.py.


def statement_change_block(profile: ProfileView, today: date, lang: str = "zh") -> str | None:
    """Statement day may be changed once every 6 months."""
    allowed_from = rules.statement_change_allowed_from(profile.statement_day_changed_on)
    if allowed_from and today < allowed_from:
        changed = profile.statement_day_changed_on
        assert changed is not None
        return texts.text("statement_change_recent", lang,
                          changed=texts.fmt_date(changed, lang, True),
                          allowed=texts.fmt_date(allowed_from, lang, True))
    return None


def new_statement_day_error(profile: ProfileView | None, day: int,
                            lang: str = "zh") -> str | None:
    """The new day must be 1-28 and differ from the current one."""
    if not rules.STATEMENT_DAY_MIN <= day <= rules.STATEMENT_DAY_MAX:
        return texts.text("statement_day_range", lang)
    if profile and day == profile.statement_day:
        return texts.text("statement_day_same", lang, day=day, day_en=texts.ordinal(day))
    return None


def bill_installment_block(profile: ProfileView, today: date, lang: str = "zh") -> str | None:
    """Bill instalment: at least 500 yuan unpaid, applied for at least 1 day before the due date."""
    stmt = profile.latest_statement
    if stmt is None:
        return texts.text("bill_none", lang)
    if stmt.installed_fen:
        return texts.text("bill_already_installed", lang,
                          date=texts.fmt_date(stmt.statement_date, lang))
    if stmt.remaining_fen < rules.BILL_INSTALLMENT_MIN_FEN:
        return texts.text("bill_too_small", lang, remaining=fen_to_yuan(stmt.remaining_fen))
    if (stmt.due_date - today).days < 1:
        return texts.text("bill_too_late", lang, due=texts.fmt_date(stmt.due_date, lang))
    return None


def bill_installment_amount_error(profile: ProfileView, amount_fen: int,
                                  lang: str = "zh") -> str | None:
    """Amount between 500 yuan and what is still unpaid on the statement."""
    stmt = profile.latest_statement
    top = stmt.remaining_fen if stmt else 0
    if amount_fen < rules.BILL_INSTALLMENT_MIN_FEN:
        return texts.text("bill_amount_min", lang)
    if amount_fen > top:
        return texts.text("bill_amount_max", lang, top=fen_to_yuan(top))
    return None


def periods_error(periods: int, lang: str = "zh") -> str | None:
    """Only 3, 6, 12 or 24 periods."""
    if periods not in rules.INSTALLMENT_RATES_BP:
        return texts.text("periods_invalid", lang)
    return None


def single_installment_candidates(profile: ProfileView) -> list[TransactionView]:
    """Unbilled purchases of at least 600 yuan not yet in a plan."""
    return [t for t in profile.unbilled
            if t.amount_fen >= rules.SINGLE_INSTALLMENT_MIN_FEN and not t.installed]


def single_installment_block(profile: ProfileView, lang: str = "zh") -> str | None:
    """At least one purchase must qualify."""
    if not single_installment_candidates(profile):
        return texts.text("single_none", lang)
    return None


def redeem_block(profile: ProfileView, today: date, lang: str = "zh") -> str | None:
    """Enough points for at least the cheapest item."""
    cheapest = min(item.points for item in rules.CATALOGUE)
    balance = profile.points_balance(today)
    if balance < cheapest:
        return texts.text("redeem_too_few", lang, balance=balance, cheapest=cheapest)
    return None


def redeem_item_error(profile: ProfileView, item: rules.CatalogueItem, today: date,
                      lang: str = "zh") -> str | None:
    """The item must be affordable."""
    balance = profile.points_balance(today)
    if balance < item.points:
        return texts.text("redeem_item_short", lang, item=texts.item_name(item, lang),
                          points=item.points, balance=balance)
    return None


def temp_limit_block(profile: ProfileView, today: date, lang: str = "zh") -> str | None:
    """No temporary limit in force, some pre-approved room, and a usable card."""
    if profile.active_temp_limit_fen(today):
        assert profile.temp_limit_end is not None
        return texts.text("temp_active", lang, amount=fen_to_yuan(profile.temp_limit_fen),
                          end=texts.fmt_date(profile.temp_limit_end, lang, True))
    if profile.temp_limit_max_fen < rules.TEMP_LIMIT_MIN_FEN:
        return texts.text("temp_not_offered", lang)
    if not profile.cards_with_status(ACTIVE):
        return texts.text("temp_no_active_card", lang)
    return None


def temp_limit_amount_error(profile: ProfileView, amount_fen: int,
                            lang: str = "zh") -> str | None:
    """Between 1,000 yuan and the pre-approved maximum, in whole hundreds."""
    top = profile.temp_limit_max_fen
    if amount_fen < rules.TEMP_LIMIT_MIN_FEN:
        return texts.text("temp_amount_min", lang)
    if amount_fen > top:
        return texts.text("temp_amount_max", lang, top=fen_to_yuan(top))
    if amount_fen % rules.TEMP_LIMIT_STEP_FEN:
        return texts.text("temp_amount_step", lang)
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


def card_error(profile: ProfileView, last4: str, purpose: str, lang: str = "zh") -> str | None:
    """Is this card one of the cardholder's, in a state that allows `purpose`?"""
    card = profile.card(last4)
    if card is None:
        return texts.text("card_unknown", lang, last4=last4)
    allowed = {"lost": lost_candidates, "freeze": freeze_candidates,
               "activate": activation_candidates}[purpose](profile)
    if card in allowed:
        return None
    label, status = card.label_in(lang), texts.status_name(card.status, lang)
    if purpose == "activate":
        return texts.text("card_no_activation", lang, label=label, status=status)
    if purpose == "freeze" and card.status == FROZEN:
        return texts.text("card_already_frozen", lang, label=label)
    return texts.text("card_wrong_state", lang, label=label, status=status)


def no_card_message(purpose: str, lang: str = "zh") -> str:
    """Why a card flow cannot start at all."""
    return texts.text(f"no_card_{purpose}", lang)


def reissue_fee_fen(card: CardView) -> int:
    """20 yuan for standard and gold, free for platinum."""
    return rules.REISSUE_FEE_FEN[card.tier]


def annual_fee_status(card: CardView, today: date, points: int, lang: str = "zh") -> str:
    """One line about a card's annual fee and how to have the next one waived."""
    fee = rules.ANNUAL_FEE_FEN[card.tier]
    label = card.label_in(lang)
    if card.status == INACTIVE:
        return texts.text("fee_inactive", lang, label=label)
    if card.status == LOST:
        return texts.text("fee_lost", lang, label=label)
    parts = [texts.text("fee_base", lang, label=label, fee=fen_to_yuan(fee))]
    if card.annual_fee_next_on:
        parts.append(texts.text("fee_next", lang,
                                date=texts.fmt_date(card.annual_fee_next_on, lang, True)))
    if card.tier == PLATINUM:
        enough = texts.text("fee_points_enough" if points >= rules.PLATINUM_FEE_POINTS
                            else "fee_points_short", lang)
        parts.append(texts.text("fee_platinum", lang, points=rules.PLATINUM_FEE_POINTS,
                                enough=enough))
    else:
        need = rules.SWIPES_TO_WAIVE[card.tier]
        left = max(0, need - card.swipes_this_year)
        if left:
            parts.append(texts.text("fee_swipes_left", lang, need=need,
                                    swipes=card.swipes_this_year, left=left))
        else:
            parts.append(texts.text("fee_swipes_done", lang, need=need,
                                    swipes=card.swipes_this_year))
    return texts.text("fee_join", lang).join(parts) + texts.text("fee_end", lang)
