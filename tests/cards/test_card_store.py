"""The card-account store: idempotent seeding, rules enforced at write time, atomic changes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cards import rules, views
from cards.client import SqlCardAccountClient, make_engine
from cards.models import Cardholder
from cards.seed import statement_date_due_in
from tests.cards.conftest import TODAY, new_store


def test_seeding_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/sub/cards.db"
    first = new_store(url)
    assert first.profile("demo-gold-001") is not None
    second = new_store(url, TODAY + timedelta(days=3))
    assert second.profile("demo-gold-001") is not None
    with Session(make_engine(url), future=True) as session:
        assert session.scalar(select(func.count()).select_from(Cardholder)) == 5


@pytest.mark.parametrize("offset", range(0, 62))
def test_gold_payment_is_due_within_3_days_whatever_the_day(tmp_path: Path, offset: int) -> None:
    today = date(2024, 1, 1) + timedelta(days=offset * 6)
    client = new_store("sqlite://", today)
    stmt = client.profile("demo-gold-001").latest_statement
    assert 0 <= (stmt.due_date - today).days <= 3
    assert client.profile("demo-gold-001").statement_day != 15
    assert 1 <= client.profile("demo-standard-001").statement_day <= 28


def test_statement_date_helper_skips_days_after_28() -> None:
    stmt = statement_date_due_in(date(2024, 3, 27), (2, 1, 3, 0))
    assert stmt.day <= 28
    assert 0 <= (stmt + timedelta(days=25) - date(2024, 3, 27)).days <= 3


def test_installment_fee_matches_the_rate_sheet() -> None:
    quote = rules.quote_installment(300_000, 6)
    assert quote.fee_per_period_fen == 2_250  # 3,000 x 0.75%
    assert quote.total_fee_fen == 13_500
    assert quote.first_principal_fen + 5 * quote.principal_per_period_fen == 300_000
    assert rules.quote_installment(129_900, 3).fee_per_period_fen == 1_039  # 10.392 -> 10.39
    with pytest.raises(ValueError):
        rules.quote_installment(100_000, 5)


def test_first_statement_on_new_day() -> None:
    assert rules.first_statement_on_new_day(5, 15, date(2024, 11, 20)) == (
        date(2024, 12, 5), date(2024, 12, 15))
    assert rules.first_statement_on_new_day(28, 15, date(2024, 11, 20)) == (
        date(2024, 11, 28), date(2024, 12, 15))
    assert rules.first_statement_on_new_day(10, 3, date(2024, 12, 20)) == (
        date(2025, 1, 10), date(2025, 2, 3))


def test_rules_are_checked_again_at_write_time(store) -> None:
    with pytest.raises(views.CardServiceError, match="1日至28日"):
        store.change_statement_day("demo-gold-001", 30)
    with pytest.raises(views.CardServiceError, match="6个月"):
        store.change_statement_day("demo-platinum-001", 5)
    with pytest.raises(views.CardServiceError, match="500元"):
        store.create_bill_installment("demo-gold-001", 400_00, 3)
    with pytest.raises(views.CardServiceError, match="积分不足"):
        store.redeem_points("demo-standard-001", "luggage_20")
    with pytest.raises(views.CardServiceError, match="最高可申请"):
        store.apply_temp_limit("demo-gold-001", 50_000_00)
    with pytest.raises(views.CardServiceError, match="不需要激活"):
        store.activate_card("demo-gold-001", "8801")
    assert [k for k, _ in store.events("demo-gold-001")] == ["seeded"]
    store.change_statement_day("demo-gold-001", 15)
    with pytest.raises(views.CardServiceError, match="6个月"):
        store.change_statement_day("demo-gold-001", 16)


def test_a_failing_change_leaves_nothing_behind(store, monkeypatch: pytest.MonkeyPatch) -> None:
    before = store.profile("demo-gold-001")

    def broken_audit(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(SqlCardAccountClient, "_event", staticmethod(broken_audit))
    with pytest.raises(RuntimeError):
        store.report_lost("demo-gold-001", "8801", reissue=True)
    with pytest.raises(RuntimeError):
        store.redeem_points("demo-gold-001", "phone_50")
    with pytest.raises(RuntimeError):
        store.create_bill_installment("demo-gold-001", 500_000, 12)
    after = store.profile("demo-gold-001")
    assert after == before  # no lost card, no new card, no fee, no points spent, no plan


def test_redeem_takes_earliest_expiring_points_across_lots(store) -> None:
    store.redeem_points("demo-standard-002", "phone_50")  # 5,000 of 1,500 + 7,100
    profile = store.profile("demo-standard-002")
    assert profile.points_balance(TODAY) == 3_600
    assert profile.points_expiring_this_month(TODAY) == (0, None)


def test_expired_points_do_not_count(store) -> None:
    profile = store.profile("demo-standard-002")
    after_month_end = date(2024, 12, 1)
    assert profile.points_balance(after_month_end) == 7_100
