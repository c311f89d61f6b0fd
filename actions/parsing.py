"""Normalise Chinese slot values: money amounts, days of the month, dates, instalment periods.

The NLU pipeline only finds the span of an entity (RegexEntityExtractor); the value the user
meant ("2.5万", "五百块", "每月十五号", "下个月5号", "十二期") is worked out here, so that the
validators and the card store only ever see integers and `datetime.date`s.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import cn2an

# Money formatting lives with the card store (both runtimes show amounts).
from cards.money import fen_to_yuan as fen_to_yuan

CN_DIGITS = "零〇一二两三四五六七八九"
CN_NUMERAL = "零〇一二两三四五六七八九十百千万"
# Full-width digits and separators that phone keyboards produce.
_FULLWIDTH = str.maketrans("０１２３４５６７８９，．：", "0123456789,.:")
_SPACES = re.compile(r"\s+")

_CURRENCY_PREFIX = re.compile(r"(?:[¥￥]|rmb|RMB|人民币)\s*")
_MONEY_PREFIX_OF_AFTER = re.compile(r"\s*(?:块钱|块|元|圆|人民币|rmb)", re.IGNORECASE)
# One amount: Arabic digits (with separators/decimals) or Chinese numerals, optional magnitude.
_AMOUNT = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[" + CN_NUMERAL + r"点]+)"
    r"\s*(?P<mag>万|千|百|[kKwW](?![a-zA-Z]))?"
    r"(?P<tail>\d|[一二两三四五六七八九])?"
)
_NOT_MONEY_AFTER = re.compile(
    r"^\s*(?:期|号|日|月|个|天|年|岁|位|次|笔|张|倍|小时|分钟|秒|积分|分(?!钱)|公里|%|％)"
)
_CARD_CONTEXT = re.compile(r"(?:尾号|尾数|后[四4六6]位|末[四4六6]位|身份证)")

_DAY = re.compile(
    r"(?:每个?月的?)?(?<![\d一二三四五六七八九十])"
    r"(?P<num>3[01]|[12]\d|0?[1-9]|[一二三四五六七八九十]{1,3})\s*(?:号|日)"
)
_DAY_AFTER_VERB = re.compile(
    r"(?:改到|改成|改为|换到|换成|调到|调成|设为|设成|定在|选)\s*(?:每个?月的?)?"
    r"(?P<num>3[01]|[12]\d|0?[1-9]|[一二三四五六七八九十]{1,3})(?![\d一二三四五六七八九十期个天])"
)
_BARE_DAY = re.compile(r"^\s*(?:每个?月的?)?(?P<num>\d{1,2}|[一二三四五六七八九十]{1,3})\s*$")
_PERIOD = re.compile(r"(?P<num>\d{1,2}|[一二两三四五六七八九十]{1,3})\s*(?:期|个月)")
_BARE_PERIOD = re.compile(r"^\s*(?:分)?(?P<num>\d{1,2}|[一二两三四五六七八九十]{1,3})\s*$")
_HALF_YEAR = re.compile(r"半年")
_ONE_YEAR = re.compile(r"(?:一|1)年(?!费)")
_TWO_YEARS = re.compile(r"(?:两|二|2)年")


def normalise(text: str) -> str:
    """Full-width to half-width, no spaces inside numbers; keeps the Chinese as it is."""
    return _SPACES.sub(" ", (text or "").translate(_FULLWIDTH)).strip()


def cn_to_int(token: str) -> int | None:
    """A whole number written in Arabic digits or Chinese numerals ("十五", "两千", "二十")."""
    token = token.strip()
    if not token:
        return None
    if token.isdigit():
        return int(token)
    try:
        value = cn2an.cn2an(token, "smart")
    except (ValueError, KeyError, IndexError):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def _to_decimal(num: str) -> Decimal | None:
    num = num.replace(",", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", num):
        return Decimal(num)
    if "点" in num:  # "一点五" (万): cn2an reads decimals in smart mode
        try:
            return Decimal(str(cn2an.cn2an(num, "smart")))
        except (ValueError, KeyError, IndexError, InvalidOperation):
            return None
    value = cn_to_int(num)
    return Decimal(value) if value is not None else None


_MAGNITUDES = {"万": 10000, "w": 10000, "W": 10000, "千": 1000, "k": 1000, "K": 1000, "百": 100}


def parse_amount(text: str) -> Decimal | None:
    """The first money amount in `text`, in yuan, rounded to fen; None when there is none.

    Understands 三千, 2.5万, 五百块, ¥3,000, 1万5 (=15000), 3k, 两万五, 3000元, 一千二百五十.
    Numbers followed by 期/号/月/积分... or preceded by 尾号/后四位 are not money, nor are
    single digits or bare Chinese digits without a magnitude or 块/元 ("查一下").
    """
    text = _CURRENCY_PREFIX.sub("", normalise(text))
    for match in _AMOUNT.finditer(text):
        before = text[max(0, match.start() - 4): match.start()]
        after = text[match.end():]
        if _CARD_CONTEXT.search(before) or _NOT_MONEY_AFTER.match(after):
            continue
        num, mag, tail = match.group("num"), match.group("mag"), match.group("tail")
        has_unit = bool(_MONEY_PREFIX_OF_AFTER.match(after))
        if re.fullmatch(r"[\d,.]+", num):
            value = _to_decimal(num)
            if value is None:
                continue
            if mag:
                unit = _MAGNITUDES[mag]
                value *= unit
                if tail:
                    # "1万5" = 15000, "3千5" = 3500: the tail digit is one unit lower.
                    value += Decimal(cn_to_int(tail) or 0) * unit / 10
            elif value < 10 and not has_unit:
                continue
        else:
            if set(num) <= set("点零〇"):
                continue
            if not re.search("[十百千万]", num) and not has_unit:
                continue
            try:
                value = Decimal(str(cn2an.cn2an(num + (tail or ""), "smart")))
            except (ValueError, KeyError, IndexError, InvalidOperation):
                continue
            if mag:
                value *= _MAGNITUDES[mag]
        if value <= 0:
            continue
        return value.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return None


def amount_to_fen(amount: Decimal) -> int:
    """Yuan (Decimal) to integer fen."""
    return int((amount * 100).quantize(Decimal("1"), ROUND_HALF_UP))


# English conversations (issue 19): "the 20th", "20th of each month", "on the 1st".
_EN_DAY = re.compile(r"(?<![\d.])(?P<num>3[01]|[12]\d|0?[1-9])\s*(?:st|nd|rd|th)\b", re.I)


def parse_day(text: str) -> int | None:
    """A day of the month: 15号, 每月15号, 二十号, 20日, or a bare "15" / "十五" reply."""
    text = normalise(text)
    match = (_DAY.search(text) or _DAY_AFTER_VERB.search(text) or _BARE_DAY.match(text)
             or _EN_DAY.search(text))
    if match is None:
        found = parse_date(text, date.today())
        return found.day if found else None
    value = cn_to_int(match.group("num"))
    if value is None or not 1 <= value <= 31:
        return None
    return value


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _month_day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


_RELATIVE_DAYS = {"今天": 0, "明天": 1, "后天": 2, "大后天": 3, "昨天": -1, "前天": -2}
_MONTH_OFFSET = {"这": 0, "本": 0, "下": 1, "下下": 2, "上": -1, "上上": -2}
_REL_MONTH = re.compile(
    r"(?P<rel>下下|上上|这|本|下|上)个?月(?:的?(?P<num>3[01]|[12]\d|0?[1-9]|[一二三四五六七八九十]{1,3})"
    r"[号日]|(?P<edge>月?[底末初]))?"
)
_ABS_MONTH = re.compile(
    r"(?:(?P<year>(?:19|20)\d{2})年)?(?P<month>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])月份?"
    r"(?:(?P<num>3[01]|[12]\d|0?[1-9]|[一二三四五六七八九十]{1,3})[号日]?)?"
)
_MONTH_EDGE = re.compile(r"(?<![个本这下上当每])月(?P<edge>[底末初])")
_DAYS_LATER = re.compile(r"(?P<num>\d{1,2}|[一二两三四五六七八九十]{1,3})天(?:以后|之后|后)")


def parse_date(text: str, today: date) -> date | None:
    """A calendar date relative to `today`: 明天, 下个月5号, 12月1号, 月底, 三天后."""
    text = normalise(text)
    for word in sorted(_RELATIVE_DAYS, key=len, reverse=True):
        if word in text:
            return today + timedelta(days=_RELATIVE_DAYS[word])
    match = _REL_MONTH.search(text)
    if match:
        base = _add_months(today.replace(day=1), _MONTH_OFFSET[match.group("rel")])
        if match.group("num"):
            day = cn_to_int(match.group("num"))
            return _month_day(base.year, base.month, day) if day else None
        edge = match.group("edge")
        if edge and edge[-1] in "底末":
            return base.replace(day=calendar.monthrange(base.year, base.month)[1])
        if edge:
            return base
        return None
    match = _ABS_MONTH.search(text)
    if match and match.group("num"):
        month = cn_to_int(match.group("month"))
        day = cn_to_int(match.group("num"))
        if not month or not day:
            return None
        year = int(match.group("year")) if match.group("year") else today.year
        found = _month_day(year, month, day)
        if found and not match.group("year") and found < today:
            found = _month_day(year + 1, month, day)  # "1月5号" said in December: next year
        return found
    match = _MONTH_EDGE.search(text)
    if match:
        if match.group("edge") in "底末":
            return today.replace(day=calendar.monthrange(today.year, today.month)[1])
        return _add_months(today.replace(day=1), 1)
    match = _DAYS_LATER.search(text)
    if match:
        days = cn_to_int(match.group("num"))
        return today + timedelta(days=days) if days is not None else None
    return None


def parse_period(text: str) -> int | None:
    """Number of instalments: 十二期, 分12期, 6个月, 半年, 一年, or a bare "12" reply."""
    text = normalise(text)
    match = _PERIOD.search(text)
    if match is None:
        match = _BARE_PERIOD.match(text)
    if match is not None:
        return cn_to_int(match.group("num"))
    if _HALF_YEAR.search(text):
        return 6
    if _TWO_YEARS.search(text):
        return 24
    if _ONE_YEAR.search(text):
        return 12
    return None


_LAST4_CONTEXT = re.compile(r"(?:尾号|尾数|后四位|后4位|末四位|末4位)\D{0,3}(\d{4})(?![\dxX])")
_LAST4_BARE = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_ID6_CONTEXT = re.compile(
    r"(?:身份证|证件)[^\d]{0,12}?(\d{5}[\dxX])(?![\dxX])|(?:后六位|后6位|末六位|末6位)\D{0,3}"
    r"(\d{5}[\dxX])(?![\dxX])"
)
_ID6_BARE = re.compile(r"(?<![\dxX])(\d{5}[\dxX])(?![\dxX])", re.IGNORECASE)


def _cn_digits_to_arabic(text: str) -> str:
    """"一二三四" -> "1234": people read card digits out one by one."""
    table = str.maketrans({"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2",
                           "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8",
                           "九": "9"})
    return re.sub(r"[零〇一幺二两三四五六七八九]{4,}", lambda m: m.group(0).translate(table), text)


def parse_card_last4(text: str) -> str | None:
    """The last four digits of a card: "尾号1234", "1234", "一二三四"."""
    text = _cn_digits_to_arabic(normalise(text))
    match = _LAST4_CONTEXT.search(text)
    if match:
        return match.group(1)
    without_id = _ID6_CONTEXT.sub(" ", text)
    found = _LAST4_BARE.findall(without_id)
    return found[0] if len(found) == 1 else None


def parse_id_last6(text: str) -> str | None:
    """The last six characters of a resident ID number (the last may be X): "110011", "12345X"."""
    text = _cn_digits_to_arabic(normalise(text))
    match = _ID6_CONTEXT.search(text)
    if match:
        return (match.group(1) or match.group(2)).upper()
    found = _ID6_BARE.findall(text)
    return found[-1].upper() if len(found) == 1 else None


_AFFIRM = re.compile(
    r"^(?:确认|确定|是的?|对的?|好的?|行|可以|没问题|办吧|嗯+|恩|ok|yes|同意|没错|就这样|对呀|是啊|"
    r"需要|要的?|补)(?:的|吧|呀|啊|了|办理|提交|确认|补卡)*[!！。.~～]*$",
    re.IGNORECASE,
)
_DENY = re.compile(
    r"^(?:不(?:用|要|需要|确认|是|对|行|办|补|了)?|否|取消|算了|no|别|暂不(?:补卡|需要)?)"
    r"(?:了|吧|啊|办了|办理|补了|补卡)*[!！。.~～]*$",
    re.IGNORECASE,
)


def is_affirm_text(text: str) -> bool:
    """A plain yes ("确认", "好的", "可以") when NLU did not classify it as `affirm`."""
    return bool(_AFFIRM.match(normalise(text)))


def is_deny_text(text: str) -> bool:
    """A plain no ("不用了", "取消") when NLU did not classify it as `deny`."""
    return bool(_DENY.match(normalise(text)))
