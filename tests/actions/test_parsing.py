"""Chinese slot-value normalisation: amounts, days, dates, periods, card and ID tails."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from actions import parsing

TODAY = date(2024, 11, 20)


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("三千", "3000"),
        ("2.5万", "25000"),
        ("五百块", "500"),
        ("¥3,000", "3000"),
        ("￥500", "500"),
        ("RMB 200", "200"),
        ("两万五", "25000"),
        ("一万五千", "15000"),
        ("三千五", "3500"),
        ("1万5", "15000"),
        ("3千", "3000"),
        ("3k", "3000"),
        ("1.5w", "15000"),
        ("3000", "3000"),
        ("3,000元", "3000"),
        ("8000块钱", "8000"),
        ("五十块", "50"),
        ("想申请临时额度五千", "5000"),
        ("提额到2万吧", "20000"),
        ("一千二百五十元", "1250"),
        ("1299.5元", "1299.50"),
        ("5块", "5"),
    ],
)
def test_amounts(text: str, yuan: str) -> None:
    assert parsing.parse_amount(text) == Decimal(yuan)


@pytest.mark.parametrize(
    "text",
    ["分十二期", "15号", "尾号1234", "帮我查一下", "12期", "积分3000分", "三个月", "5", "",
     "每月15日", "3天后"],
)
def test_not_amounts(text: str) -> None:
    assert parsing.parse_amount(text) is None


def test_amount_skips_period_and_takes_money() -> None:
    assert parsing.parse_amount("分12期，金额3000元") == Decimal("3000")


def test_fen_helpers() -> None:
    assert parsing.amount_to_fen(Decimal("1299.5")) == 129950
    assert parsing.fen_to_yuan(300000) == "3,000.00"
    assert parsing.fen_to_yuan(5) == "0.05"
    assert parsing.fen_to_yuan(-12345) == "-123.45"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("15号", 15),
        ("每月15号", 15),
        ("每个月的15日", 15),
        ("二十号", 20),
        ("二十八号", 28),
        ("三十一号", 31),
        ("帮我把账单日改到15号", 15),
        ("不对，改成20号", 20),
        ("改到十五", 15),
        ("15", 15),
        ("十五", 15),
        ("5号", 5),
        ("下个月5号", 5),
        ("12月1号", 1),
    ],
)
def test_days(text: str, day: int) -> None:
    assert parsing.parse_day(text) == day


@pytest.mark.parametrize("text", ["账单日可以改吗", "分12期", "3000元", "尾号1234", "32号"])
def test_not_days(text: str) -> None:
    assert parsing.parse_day(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天", date(2024, 11, 21)),
        ("后天", date(2024, 11, 22)),
        ("大后天", date(2024, 11, 23)),
        ("下个月5号", date(2024, 12, 5)),
        ("下下个月1号", date(2025, 1, 1)),
        ("这个月底", date(2024, 11, 30)),
        ("月底", date(2024, 11, 30)),
        ("下个月初", date(2024, 12, 1)),
        ("12月1号", date(2024, 12, 1)),
        ("十二月五号", date(2024, 12, 5)),
        ("1月5号", date(2025, 1, 5)),
        ("2025年3月8日", date(2025, 3, 8)),
        ("三天后", date(2024, 11, 23)),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parsing.parse_date(text, TODAY) == expected


def test_next_month_date_across_year_end() -> None:
    assert parsing.parse_date("下个月5号", date(2024, 12, 31)) == date(2025, 1, 5)
    assert parsing.parse_date("下个月底", date(2025, 1, 31)) == date(2025, 2, 28)


def test_impossible_dates_are_none() -> None:
    assert parsing.parse_date("2月30号", TODAY) is None
    assert parsing.parse_date("随便哪天", TODAY) is None


@pytest.mark.parametrize(
    ("text", "periods"),
    [("十二期", 12), ("分12期", 12), ("24期", 24), ("六期", 6), ("三期吧", 3), ("6个月", 6),
     ("12", 12), ("半年", 6), ("分一年", 12), ("两年", 24), ("二十四期", 24)],
)
def test_periods(text: str, periods: int) -> None:
    assert parsing.parse_period(text) == periods


@pytest.mark.parametrize("text", ["年费多少", "3000元", "随便"])
def test_not_periods(text: str) -> None:
    assert parsing.parse_period(text) is None


@pytest.mark.parametrize(
    ("text", "last4"),
    [("尾号1234", "1234"), ("卡号后四位是 5678", "5678"), ("1234", "1234"), ("一二三四", "1234"),
     ("１２３４", "1234"), ("尾号8801，身份证后六位110011", "8801"), ("6601 31002x", "6601")],
)
def test_card_last4(text: str, last4: str) -> None:
    assert parsing.parse_card_last4(text) == last4


@pytest.mark.parametrize("text", ["12345", "我要查账单", "1234 5678"])
def test_not_card_last4(text: str) -> None:
    assert parsing.parse_card_last4(text) is None


@pytest.mark.parametrize(
    ("text", "last6"),
    [("110011", "110011"), ("12345x", "12345X"), ("身份证后六位是520133", "520133"),
     ("尾号8801，身份证后六位110011", "110011"), ("身份证号码后6位 03121X", "03121X"),
     ("6601 31002x", "31002X")],
)
def test_id_last6(text: str, last6: str) -> None:
    assert parsing.parse_id_last6(text) == last6


@pytest.mark.parametrize("text", ["1234", "12345678", "账单"])
def test_not_id_last6(text: str) -> None:
    assert parsing.parse_id_last6(text) is None


@pytest.mark.parametrize(
    "text", ["确认", "好的", "是的", "可以", "没问题", "嗯", "确认办理", "OK", "需要", "要补卡"]
)
def test_affirm_words(text: str) -> None:
    assert parsing.is_affirm_text(text)
    assert not parsing.is_deny_text(text)


@pytest.mark.parametrize(
    "text", ["不用了", "不要", "取消", "算了", "不办了", "否", "不需要", "暂不补卡", "不补了"]
)
def test_deny_words(text: str) -> None:
    assert parsing.is_deny_text(text)
    assert not parsing.is_affirm_text(text)


def test_affirm_is_not_a_correction() -> None:
    assert not parsing.is_affirm_text("不对，改成20号")
    assert not parsing.is_deny_text("不对，改成20号")


@pytest.mark.parametrize(("text", "day"), [
    ("the 20th", 20), ("change it to the 1st please", 1), ("3rd of each month", 3),
    ("22nd", 22), ("2.5th", None), ("the 40th", None),
])
def test_english_ordinal_days(text, day) -> None:
    assert parsing.parse_day(text) == day
