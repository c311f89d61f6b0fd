"""Every cardholder-facing text of the card rules, in Chinese and English (issue 19).

One table for the layer: the eligibility checks in `cards.views` and the dialogue that shows
them read their sentences here, by key, in the conversation's language (Chinese is the
default; an unknown language falls back to it). Dates, card names and catalogue items have
their English forms here too, so no English string is scattered through the logic.
"""

from __future__ import annotations

from datetime import date

from cards import rules
from cards.models import ACTIVE, FROZEN, GOLD, INACTIVE, LOST, PLATINUM, STANDARD
from vocab.language import TextTable

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

TIER_NAMES_EN = {STANDARD: "Classic card", GOLD: "Gold card", PLATINUM: "Platinum card"}
STATUS_NAMES = TextTable("card statuses", {
    ACTIVE: ("正常", "active"), INACTIVE: ("未激活", "not activated"),
    FROZEN: ("已冻结", "frozen"), LOST: ("已挂失", "reported lost"),
})
ITEM_NAMES_EN = {
    "miles_1000": "1,000 km of air miles",
    "video_month": "one-month video membership",
    "phone_50": "50 yuan phone top-up",
    "fuel_100": "100 yuan fuel card",
    "movie_1": "one cinema ticket voucher",
    "luggage_20": "20-inch trolley suitcase",
}

# The English names of the merchants and bank postings of the card store's data, by the name a
# transaction records (the acquirer sends the Chinese one). A merchant not listed keeps its
# recorded name in English replies too: it is what the cardholder's statement prints.
MERCHANT_NAMES_EN = {
    "还款，谢谢": "Payment, thank you",
    "补卡工本费": "Card replacement fee",
    "京东商城": "JD.com", "美团外卖": "Meituan food delivery", "滴滴出行": "DiDi rides",
    "海底捞火锅": "Haidilao Hot Pot", "苹果官网": "Apple online store",
    "携程旅行": "Trip.com", "盒马鲜生": "Freshippo", "美宜佳便利店": "Meiyijia convenience store",
    "中国石化加油站": "Sinopec petrol station", "优衣库": "UNIQLO", "网易严选": "NetEase Yanxuan",
    "电影院": "Cinema", "宜家家居": "IKEA", "星巴克": "Starbucks", "国航官网": "Air China online",
    "万豪酒店": "Marriott Hotel", "SKP商场": "SKP mall", "山姆会员店": "Sam's Club",
    "沃尔玛": "Walmart", "中国联通": "China Unicom", "肯德基": "KFC", "屈臣氏": "Watsons",
    "拼多多": "Pinduoduo", "瑞幸咖啡": "Luckin Coffee", "永辉超市": "Yonghui Supermarket",
}

# key -> (Chinese, English); str.format fields are filled by `text`.
TEXTS = TextTable("cards", {
    "statement_change_recent": (
        "您上次修改账单日是在{changed}，账单日每6个月只能修改1次，{allowed}起可以再次修改。",
        "You last changed your statement date on {changed}. It can be changed once every 6 "
        "months, so you can change it again from {allowed}."),
    "statement_day_range": (
        "账单日只能选择每月1日至28日，请重新选择一个日期。",
        "The statement date can only be a day from the 1st to the 28th. Please choose another "
        "day."),
    "statement_day_same": (
        "您的账单日已经是每月{day}日了，请选择一个不同的日期。",
        "Your statement date is already the {day_en} of each month. Please choose a different "
        "day."),
    "bill_none": (
        "您目前还没有已出的账单，暂时无法办理账单分期。",
        "You have no statement yet, so a bill instalment is not possible for now."),
    "bill_already_installed": (
        "您{date}的账单已经办理过账单分期了。",
        "Your statement of {date} has already been put into instalments."),
    "bill_too_small": (
        "账单分期要求已出账单未还金额不低于500元，您本期未还金额为{remaining}元，暂不符合条件。",
        "A bill instalment needs at least 500 yuan unpaid on the statement; you have "
        "{remaining} yuan unpaid, so it is not possible this time."),
    "bill_too_late": (
        "账单分期须在到期还款日（{due}）前至少1天申请，本期已过申请时间。"
        "您可以先按最低还款额还款，避免逾期。",
        "A bill instalment must be requested at least 1 day before the payment due date "
        "({due}), which has passed for this statement. You can pay the minimum payment to "
        "avoid being overdue."),
    "bill_amount_min": (
        "账单分期金额不能低于500元，请重新输入。",
        "The instalment amount must be at least 500 yuan. Please enter it again."),
    "bill_amount_max": (
        "分期金额不能超过本期未还金额{top}元，请重新输入。",
        "The instalment amount cannot exceed the {top} yuan still unpaid on this statement. "
        "Please enter it again."),
    "periods_invalid": (
        "分期期数可选3期、6期、12期或24期，请重新选择。",
        "You can choose 3, 6, 12 or 24 instalments. Please choose again."),
    "single_none": (
        "您目前没有可以办理单笔分期的消费：单笔消费需满600元，且须在入账后、出账单前申请。"
        "已出账单的消费可以办理账单分期。",
        "You have no purchase that can be split into instalments: a purchase must be at least "
        "600 yuan and not yet on a statement. Purchases already on a statement can go into a "
        "bill instalment."),
    "redeem_too_few": (
        "您当前可用积分为{balance:,}分，积分商城最低兑换需要{cheapest:,}分，暂时还不能兑换。"
        "每消费1元积1分，多多用卡积分会很快攒起来哦。",
        "You have {balance:,} points; the cheapest reward needs {cheapest:,}, so you cannot "
        "redeem yet. Every yuan you spend earns 1 point."),
    "redeem_item_short": (
        "兑换{item}需要{points:,}积分，您当前可用积分为{balance:,}分，积分不足，请换一个礼品。",
        "{item} needs {points:,} points and you have {balance:,}. Please choose another "
        "reward."),
    "temp_active": (
        "您已有临时额度{amount}元，有效期至{end}，到期后可以再次申请。",
        "You already have a temporary limit of {amount} yuan, valid until {end}. You can apply "
        "again after it ends."),
    "temp_not_offered": (
        "根据您的用卡情况，暂时无法在线申请临时额度，建议保持良好用卡记录后再试。",
        "Based on your card use, a temporary limit cannot be applied for online right now. "
        "Please try again after some more months of good card use."),
    "temp_no_active_card": (
        "您名下没有状态正常的卡片，暂时无法申请临时额度。",
        "You have no active card, so a temporary limit is not possible for now."),
    "temp_amount_min": (
        "临时额度最低申请1,000元，请重新输入。",
        "The minimum temporary limit is 1,000 yuan. Please enter it again."),
    "temp_amount_max": (
        "您最高可申请{top}元的临时额度，请输入不超过这个金额的数字。",
        "You can apply for at most {top} yuan of temporary limit. Please enter an amount up to "
        "that."),
    "temp_amount_step": (
        "临时额度需为100元的整数倍，请重新输入。",
        "The temporary limit must be a multiple of 100 yuan. Please enter it again."),
    "no_account": ("未查询到您名下的信用卡账户。",
                   "No credit card account was found in your name."),
    "card_not_found": ("没有找到您名下尾号{last4}的信用卡。",
                       "No credit card of yours ends in {last4}."),
    "single_not_eligible": (
        "这笔消费不符合单笔分期条件（需满600元、尚未出账且未分期）。",
        "This purchase cannot be split into instalments (it must be at least 600 yuan, not yet "
        "on a statement and not already in instalments)."),
    "item_unknown": ("积分商城里没有这个礼品。", "This reward is not in the points catalogue."),
    "card_unknown": (
        "没有找到您名下尾号{last4}的信用卡，请核对后重新输入卡号后四位。",
        "No card of yours ends in {last4}. Please check and enter the last 4 digits again."),
    "card_no_activation": (
        "{label}状态为“{status}”，不需要激活。",
        "Your {label} is {status} and needs no activation."),
    "card_already_frozen": (
        "{label}已经是冻结状态了，如需解冻可在App“卡片管理”中自助解锁。",
        "Your {label} is already frozen. You can unlock it yourself in the app under Card "
        "management."),
    "card_wrong_state": (
        "{label}当前状态为“{status}”，无法办理。",
        "Your {label} is {status}, so this cannot be done."),
    "no_card_lost": (
        "您名下没有可以挂失的卡片（卡片均已挂失）。如需帮助请转人工客服。",
        "You have no card that can be reported lost (all are reported lost already). Ask for "
        "an agent if you need help."),
    "no_card_freeze": (
        "您名下没有状态正常、可以冻结的卡片。",
        "You have no active card that can be frozen."),
    "no_card_activate": (
        "您名下没有待激活的卡片，所有卡片都已激活。",
        "You have no card waiting for activation: all your cards are activated."),
    "fee_inactive": (
        "{label}尚未激活，未激活的新卡不收年费。",
        "Your {label} is not activated yet; no annual fee is charged before activation."),
    "fee_lost": (
        "{label}已挂失，不再收取年费。",
        "Your {label} is reported lost; no more annual fee is charged."),
    "fee_base": (
        "{label}年费{fee}元/年（首年免年费）",
        "Your {label}: annual fee {fee} yuan a year (the first year is free)"),
    "fee_next": (
        "下次年费收取日为{date}",
        "the next fee is charged on {date}"),
    "fee_platinum": (
        "白金卡年费可用{points:,}积分抵扣，{enough}",
        "a Platinum card's fee can be paid with {points:,} points, {enough}"),
    "fee_points_enough": ("您当前积分足够抵扣", "and you have enough points"),
    "fee_points_short": ("您当前积分尚不足", "but you do not have enough points yet"),
    "fee_swipes_left": (
        "本年度刷卡满{need}次可免次年年费，您已刷{swipes}次，再刷{left}次即可免年费",
        "{need} purchases this year waive next year's fee: you have made {swipes}, {left} more "
        "to go"),
    "fee_swipes_done": (
        "本年度已刷卡{swipes}次，已满足{need}次的条件，次年年费全免",
        "you have made {swipes} purchases this year, meeting the {need} needed, so next "
        "year's fee is waived"),
    "fee_join": ("，", "; "),
    "fee_end": ("。", "."),
})


text = TEXTS.text  # the sentence `key` in `lang`, fields filled (vocab.language.TextTable)


def merchant_name(recorded: str, lang: str | None = "zh") -> str:
    """京东商城 / JD.com (the recorded name where no English one is known)."""
    return MERCHANT_NAMES_EN.get(recorded, recorded) if lang == "en" else recorded


def ordinal(day: int) -> str:
    """1st, 2nd, 3rd, 11th, 22nd."""
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def fmt_date(day: date, lang: str | None = "zh", with_year: bool = False) -> str:
    """12月5日 / 5 Dec (with the year: 2024年12月5日 / 5 Dec 2024)."""
    if lang != "en":
        return rules.fmt_date(day, with_year)
    out = f"{day.day} {_MONTHS[day.month - 1]}"
    return f"{out} {day.year}" if with_year else out


def tier_name(tier: str, lang: str | None = "zh") -> str:
    """普卡 / Classic card."""
    return TIER_NAMES_EN[tier] if lang == "en" else rules.TIER_NAMES[tier]


def status_name(status: str, lang: str | None = "zh") -> str:
    """正常 / active."""
    return STATUS_NAMES.text(status, lang)


def card_label(last4: str, tier: str, lang: str | None = "zh") -> str:
    """尾号8801的金卡 / Gold card ending 8801."""
    if lang == "en":
        return f"{TIER_NAMES_EN[tier]} ending {last4}"
    return f"尾号{last4}的{rules.TIER_NAMES[tier]}"


def item_name(item: rules.CatalogueItem, lang: str | None = "zh") -> str:
    """A catalogue item's name (its Chinese name when no English one is written)."""
    return ITEM_NAMES_EN.get(item.code, item.name) if lang == "en" else item.name
