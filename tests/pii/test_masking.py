"""Tests for pii.masking: detection with context and checksums, false positives, logging.

All numbers are synthetic: card numbers get their Luhn digit and ID numbers their GB 11643
check character from the helpers below; ID numbers use the non-existent region code 990000.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pii import PiiMaskingFilter, mask, masking

# --------------------------------------------------------------------------- helpers


def luhn_digit(prefix: str) -> str:
    """The digit that makes ``prefix + digit`` Luhn-valid (independent implementation)."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def card(prefix: str) -> str:
    """Luhn-valid card number."""
    return prefix + luhn_digit(prefix)


def bad_card(prefix: str) -> str:
    """Same length as ``card(prefix)`` but with a wrong check digit."""
    return prefix + str((int(luhn_digit(prefix)) + 1) % 10)


def id_check(body: str) -> str:
    """GB 11643-1999 check character (independent implementation)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def id_number(birth: str = "19900101", want_x: bool = False) -> str:
    """Valid 18-character ID number; with ``want_x`` one whose check character is X."""
    for seq in range(1000):
        body = f"990000{birth}{seq:03d}"
        check = id_check(body)
        if (check == "X") == want_x:
            return body + check
    raise AssertionError("unreachable")


def bad_id(birth: str = "19900101") -> str:
    """18 digits with a wrong GB 11643 check digit that are not Luhn-valid either."""
    for seq in range(1000):
        body = f"990000{birth}{seq:03d}"
        for check in "0123456789":
            value = body + check
            if check != id_check(body) and not masking.luhn_valid(value):
                return value
    raise AssertionError("unreachable")


def phone(second: str = "3", tail: str = "5678") -> str:
    """Synthetic mainland mobile number 1[3-9]0000xxxx."""
    return f"1{second}00000{tail}"


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


CARD16 = card("620000123456789")  # 16 digits
CARD19 = card("620000123456789012")  # 19 digits
ID_DIGIT = id_number()
ID_X = id_number(want_x=True)
PHONE = phone()
BAD_ID = bad_id()


def tok(kind: str, value: str) -> str:
    return f"[{kind}****{value[-4:].upper()}]"


# --------------------------------------------------------------------------- helpers sanity


def test_helpers_agree_with_module_checksums() -> None:
    assert masking.luhn_valid(CARD16) and masking.luhn_valid(CARD19)
    assert not masking.luhn_valid(bad_card("620000123456789"))
    assert masking.gb11643_check_char(ID_X[:17]) == "X" == ID_X[-1]
    assert masking.gb11643_check_char(ID_DIGIT[:17]) == ID_DIGIT[-1]


# --------------------------------------------------------------------------- detection

MASKED_CASES = [
    # running Chinese text, no spaces
    (f"我的卡号{CARD19}帮我查下", f"我的卡号{tok('卡号', CARD19)}帮我查下"),
    # spaced and hyphenated card numbers
    (f"信用卡号是 {CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]}，谢谢",
     f"信用卡号是 {tok('卡号', CARD16)}，谢谢"),
    (f"{CARD16[:4]}-{CARD16[4:8]}-{CARD16[8:12]}-{CARD16[12:]}", tok("卡号", CARD16)),
    # full-width digits: detected, and the text around them is preserved byte for byte
    (f"卡号：{fullwidth(CARD16)}，ＯＫ", f"卡号：{tok('卡号', CARD16)}，ＯＫ"),
    (f"手机{fullwidth(PHONE[:3])}　{fullwidth(PHONE[3:7])}　{fullwidth(PHONE[7:])}。",
     f"手机{tok('手机号', PHONE)}。"),
    # valid Luhn without any context
    (f"帮我看看{CARD16}这个", f"帮我看看{tok('卡号', CARD16)}这个"),
    # invalid Luhn, but strong context and a plausible length
    ("卡号是1234567890123", "卡号是[卡号****0123]"),
    (f"信用卡 {bad_card('620000123456789')} 被锁了",
     f"信用卡 {tok('卡号', bad_card('620000123456789'))} 被锁了"),
    # ID numbers: digit check, X and lower-case x, grouped, wrong check char with context
    (f"身份证号码：{ID_DIGIT}", f"身份证号码：{tok('身份证', ID_DIGIT)}"),
    (f"我的身份证{ID_X}", f"我的身份证{tok('身份证', ID_X)}"),
    (f"证件号{ID_X[:-1]}x请核对", f"证件号{tok('身份证', ID_X)}请核对"),
    (f"{ID_X[:6]} {ID_X[6:14]} {ID_X[14:]}", tok("身份证", ID_X)),
    (f"证件号码 {BAD_ID}", f"证件号码 {tok('身份证', BAD_ID)}"),
    # context decides the label when the checksum of the other kind happens to pass
    (f"身份证号 {card('99000019900101123')}",
     f"身份证号 {tok('身份证', card('99000019900101123'))}"),
    (f"{ID_X}没有上下文也认得出", f"{tok('身份证', ID_X)}没有上下文也认得出"),
    # phones: bare, +86, 86-, 0086, grouped, with context
    (f"联系方式：{PHONE}，谢谢", f"联系方式：{tok('手机号', PHONE)}，谢谢"),
    (f"打这个{PHONE}就行", f"打这个{tok('手机号', PHONE)}就行"),
    (f"手机+86 {PHONE}", f"手机{tok('手机号', PHONE)}"),
    (f"手机+86{PHONE}", f"手机{tok('手机号', PHONE)}"),
    (f"电话86-{PHONE}", f"电话{tok('手机号', PHONE)}"),
    (f"tel: 0086 {PHONE}", f"tel: {tok('手机号', PHONE)}"),
    (f"+86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}", tok("手机号", PHONE)),
    (f"我手机号{PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}", f"我手机号{tok('手机号', PHONE)}"),
    ("电话 010-62345678", "电话 [手机号****5678]"),  # landline: context + plausible length
    # several PII in one line, separated by spaces only
    (f"卡号{CARD19}，身份证{ID_X}，手机{phone('9', '0001')}",
     f"卡号{tok('卡号', CARD19)}，身份证{tok('身份证', ID_X)}，手机[手机号****0001]"),
    (f"{PHONE},{phone('9', '0002')}、{PHONE}",
     f"{tok('手机号', PHONE)},[手机号****0002]、{tok('手机号', PHONE)}"),
    (f"{CARD16[:4]} {CARD16[4:8]} {CARD16[8:12]} {CARD16[12:]} {PHONE}",
     f"{tok('卡号', CARD16)} {tok('手机号', PHONE)}"),
    # a date glued to a phone number by a space stays visible
    (f"2026-11-23 {PHONE}", f"2026-11-23 {tok('手机号', PHONE)}"),
    # Decision: a 16-19 digit Luhn-valid number is masked even after 订单号 (indistinguishable
    # from a card number; hiding an order number is the cheaper mistake).
    (f"订单号{card('202611231234567')}", f"订单号{tok('卡号', card('202611231234567'))}"),
    # English keywords
    (f"ID: {ID_DIGIT}", f"ID: {tok('身份证', ID_DIGIT)}"),
]


@pytest.mark.parametrize(("text", "expected"), MASKED_CASES)
def test_masks(text: str, expected: str) -> None:
    assert mask(text) == expected


UNCHANGED_CASES = [
    "您好，请问有什么可以帮您？",
    "额度3000元，还款 ¥12,000，差 2.5万",
    "交易金额 1234567.89元",
    "本期应还 12,345,678.00 元",
    "2026-11-23 到期，账单日 20261123，还款日11月23日",
    "2026年11月23日 14:30:15 消费",
    "分12期，每期手续费0.6%",
    "尾号1234的卡",
    "卡号后四位 1234",
    "积分 123456",
    "积分 12345678901",
    "ts=1763870400123 elapsed=1234567ms",
    # explicit non-PII context beats the phone pattern
    f"订单号{PHONE}",
    f"交易流水号：{PHONE}",
    "订单号 2026112312345678",  # Luhn-invalid order number
    f"流水号 {bad_card('20261123123456789')}",
    # a unit right after the number: an amount
    f"转账 {PHONE} 元",
    # unvalidated long numbers without PII context stay visible (documented trade-off)
    "参考编码 1234567890123",
    f"随便一串 {bad_card('620000123456789')}",
    # 18 digits that fail GB 11643 and have no context
    f"单据 {BAD_ID}",
    # hotline numbers are not personal data, even after 电话
    "请致电400-820-8820",
    # already masked text
    "卡号[卡号****7890]，身份证[身份证****123X]，手机[手机号****5678]",
]


@pytest.mark.parametrize("text", UNCHANGED_CASES)
def test_leaves_non_pii_alone(text: str) -> None:
    assert mask(text) == text


@pytest.mark.parametrize("text", [t for t, _ in MASKED_CASES] + UNCHANGED_CASES + [
    f"1234567890123 和 {CARD19}",
    f"{CARD16} 1234567 {PHONE}",
    f"1234567890123 是 {PHONE}",
])
def test_idempotent(text: str) -> None:
    once = mask(text)
    assert mask(once) == once


def test_no_full_number_survives() -> None:
    text = f"卡号{CARD19}，身份证{ID_X}，手机{PHONE}"
    masked = mask(text)
    for value in (CARD19, ID_X, PHONE):
        assert value not in masked
        assert value[:-4] not in masked


def test_empty_and_short_text() -> None:
    assert mask("") == ""
    assert mask("123456") == "123456"


def test_fast_path_does_not_build_pipeline() -> None:
    """Importing pii, and masking text without long digit runs, builds nothing."""
    code = (
        "import sys, pii, pii.masking as m\n"
        "assert m.get_pipeline.cache_info().currsize == 0\n"
        "assert 'spacy' not in sys.modules and 'jieba' not in sys.modules\n"
        "assert pii.mask('额度3000元，分12期，尾号1234') == '额度3000元，分12期，尾号1234'\n"
        "assert m.get_pipeline.cache_info().currsize == 0\n"
        "assert 'spacy' not in sys.modules\n"
        "pii.mask('卡号是1234567890123')\n"
        "assert m.get_pipeline.cache_info().currsize == 1\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --------------------------------------------------------------------------- logging filter


@pytest.fixture()
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(PiiMaskingFilter())
    logger = logging.getLogger("tests.pii.capture")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_filter_masks_formatted_message(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("用户 %s 卡号 %s 手机 %s 额度 %d 元", "u1", CARD19, PHONE, 30000)
    out = stream.getvalue()
    card_tok, phone_tok = tok("卡号", CARD19), tok("手机号", PHONE)
    assert out == f"INFO 用户 u1 卡号 {card_tok} 手机 {phone_tok} 额度 30000 元\n"


def test_filter_on_record_sets_msg_and_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "身份证 %(id)s，分%(n)d期",
                               ({"id": ID_X, "n": 12},), None)
    assert PiiMaskingFilter().filter(record) is True
    assert record.msg == f"身份证 {tok('身份证', ID_X)}，分12期"
    assert record.args == ()
    assert record.getMessage() == record.msg


def test_filter_masks_traceback(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError(f"bad card {CARD16}")
    except ValueError:
        logger.exception("lookup failed for %s", PHONE)
    out = stream.getvalue()
    assert "Traceback" in out and "ValueError: bad card [卡号****" in out
    assert CARD16 not in out and PHONE not in out


def test_filter_masks_existing_exc_text() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), None)
    record.exc_text = f"Traceback ...\nKeyError: '{CARD16}'"
    PiiMaskingFilter().filter(record)
    assert record.exc_text == f"Traceback ...\nKeyError: '{tok('卡号', CARD16)}'"


def test_filter_survives_bad_format_args(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("%d items for %s", "not-a-number", CARD16)
    out = stream.getvalue()
    assert CARD16 not in out and "[卡号****" in out


def test_filter_falls_back_to_regex_on_internal_error(
        monkeypatch: pytest.MonkeyPatch, captured: tuple[logging.Logger, io.StringIO]) -> None:
    def broken() -> None:
        raise RuntimeError("spaCy is broken")

    monkeypatch.setattr(masking, "get_pipeline", broken)
    with pytest.raises(RuntimeError):
        mask(f"卡号是{bad_card('620000123456789')}")  # mask() itself is strict
    logger, stream = captured
    logger.warning("卡号 %s 手机 %s 日期 2026-11-23", bad_card("620000123456789"), PHONE)
    out = stream.getvalue()
    assert bad_card("620000123456789") not in out and PHONE not in out
    assert "[号码****" in out and tok("手机号", PHONE) in out and "2026-11-23" in out


def test_filter_never_raises_even_if_fallback_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("everything is broken")

    monkeypatch.setattr(masking, "mask", broken)
    monkeypatch.setattr(masking, "_mask_regex_only", broken)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "卡号 %s", (CARD16,), None)
    assert PiiMaskingFilter().filter(record) is True
    assert CARD16 not in record.getMessage()
