"""Query understanding (knowledge_base/search/query.py): bank names (with a non-default bank),
other issuers and their products, filler and courtesy, trailing context, multi-question split."""

from __future__ import annotations

import pytest

from knowledge_base.search.query import QueryConfig, other_issuer_note, understand

# A deploying bank that is not the demo bank: the China Construction Bank.
CCB = QueryConfig.from_settings("中国建设银行,建设银行,建行,CCB,龙卡,建行生活=App")
DEMO = QueryConfig()


@pytest.mark.parametrize(("text", "want"), [
    ("请问建行信用卡提额怎么弄", "信用卡提额怎么弄"),
    ("中国建设银行的信用卡怎么还款", "信用卡怎么还款"),
    ("CCB信用卡年费多少", "信用卡年费多少"),
    ("龙卡怎么激活", "信用卡怎么激活"),
    ("建行生活怎么绑卡", "App怎么绑卡"),
])
def test_own_bank_names_are_stripped_for_a_configured_bank(text: str, want: str) -> None:
    u = understand(text, CCB)
    assert u.normalized == want
    assert u.own_bank and u.other_issuer is None and u.other_product is None


def test_the_configured_bank_is_never_an_other_issuer_but_the_demo_default_is() -> None:
    assert understand("建行的卡怎么提额", DEMO).other_issuer == "建设银行"
    assert understand("建行的卡怎么提额", CCB).other_issuer is None
    # Under the CCB's names, the demo bank's own name is just text.
    assert understand("本行信用卡App怎么绑卡", DEMO).normalized == "App怎么绑卡"
    assert understand("本行信用卡App怎么绑卡", CCB).normalized == "本行信用卡App怎么绑卡"


def test_other_issuer_as_the_cards_issuer_is_removed_and_noted() -> None:
    u = understand("招行的卡怎么提额", CCB)
    assert u.normalized == "卡怎么提额"
    assert u.other_issuer == "招商银行" and u.other_product is None
    note = other_issuer_note(u)
    assert note is not None and "招商银行" in note and "本行信用卡" in note


@pytest.mark.parametrize("text", [
    "能用工商银行的卡还款吗", "从招行转账还信用卡要手续费吗", "可以还招行的信用卡吗",
    "招行借记卡能绑定自动还款吗", "你们的卡和招行的卡比哪个好"])
def test_other_bank_not_as_the_cards_issuer_is_kept_and_not_noted(text: str) -> None:
    u = understand(text, CCB)
    assert u.normalized == text
    assert u.other_issuer is None and other_issuer_note(u) is None


@pytest.mark.parametrize(("text", "want"), [
    ("招行信用卡怎么还款", "信用卡怎么还款"),
    ("工行app怎么查账单", "app怎么查账单"),
    ("请问农行的信用卡年费多少", "信用卡年费多少"),
])
def test_other_issuer_of_the_card_is_stripped_even_in_a_repayment_question(text: str,
                                                                           want: str) -> None:
    u = understand(text, CCB)
    assert u.normalized == want and u.other_issuer is not None


def test_a_product_only_another_bank_has_gets_the_own_cards_only_note() -> None:
    u = understand("掌上生活积分怎么兑换", CCB)
    assert (u.other_issuer, u.other_product) == ("招商银行", "掌上生活")
    note = other_issuer_note(u)
    assert note is not None and "只能解答本行信用卡" in note


def test_extra_other_issuers_from_settings() -> None:
    cfg = QueryConfig.from_settings("建行", "苏州银行,苏银=苏州银行")
    assert understand("苏银的信用卡怎么分期", cfg).other_issuer == "苏州银行"


def test_credit_bureau_is_no_issuer_and_substrings_do_not_match() -> None:
    assert understand("逾期会上人民银行征信吗", CCB).other_issuer is None
    assert understand("收到短信中信用卡被扣了100元", CCB).other_issuer is None


@pytest.mark.parametrize(("text", "want"), [
    ("哪位大神知道信用卡怎么分期？求解答，急", "信用卡怎么分期？"),
    ("有哪位大神知道账单日怎么改", "账单日怎么改"),
    ("您好，请问还款日是哪天？谢谢！", "还款日是哪天？"),
    ("急急急！卡被冻结了怎么办", "卡被冻结了怎么办"),
])
def test_filler_and_courtesy_are_removed(text: str, want: str) -> None:
    assert understand(text, DEMO).normalized == want


def test_filler_words_that_are_words_elsewhere_stay() -> None:
    assert understand("紧急情况怎么临时提额", DEMO).normalized == "紧急情况怎么临时提额"
    assert understand("急用钱可以取现吗", DEMO).normalized == "急用钱可以取现吗"


def test_a_message_that_is_only_filler_is_searched_as_typed() -> None:
    assert understand("谢谢", DEMO).normalized == "谢谢"
    assert understand("急", DEMO).normalized == "急"


def test_trailing_context_after_a_substantive_question_is_dropped() -> None:
    u = understand("信用卡怎么提额？我用了两年了，每个月都按时还款", DEMO)
    assert u.normalized == "信用卡怎么提额？"
    assert "我用了两年了" in u.removed


def test_context_before_the_question_and_after_a_short_one_is_kept() -> None:
    text = "我上个月刷了一万块，能分期吗"
    assert understand(text, DEMO).normalized == text
    assert understand("怎么办？卡被盗刷了", DEMO).normalized == "怎么办？卡被盗刷了"


def test_multi_question_message_is_split_into_main_and_offered_questions() -> None:
    u = understand("我的卡被冻结了，怎么解冻？另外积分怎么查？", DEMO)
    assert u.normalized == "我的卡被冻结了，怎么解冻？"
    assert u.sub_questions == ("积分怎么查？",)
    v = understand("年费怎么收？还有，逾期了会影响征信吗", DEMO)
    assert v.normalized == "年费怎么收？" and v.sub_questions == ("逾期了会影响征信吗",)


def test_one_question_with_several_clauses_is_not_split() -> None:
    u = understand("我这个月账单3000块，最低还款是多少，会有利息吗", DEMO)
    assert u.sub_questions == ()
    assert u.normalized == "我这个月账单3000块，最低还款是多少，会有利息吗"


def test_a_second_question_too_short_to_offer_stays_with_the_first() -> None:
    u = understand("怎么开通分期？行吗？", DEMO)
    assert u.sub_questions == ()


@pytest.mark.parametrize("text", [
    "这张卡我都不怎么用，还被扣了300，能要回来不",  # 不怎么 is no question; 不 at the end is
    "提额申请没批下来，还有别的办法吗",  # 还有 inside one question is no new question
    "提额会不会查我信用报告，留下查询记录",  # a trailing clause that says what is asked
    "信用卡怎么有两个密码，分别是拿来干嘛的",
])
def test_clauses_that_carry_the_question_are_kept(text: str) -> None:
    u = understand(text, DEMO)
    assert u.normalized == text and u.sub_questions == ()


def test_a_second_question_without_a_topic_is_searched_with_the_first_ones() -> None:
    u = understand("买了个手机想分期，手续费怎么算？另外能提前还吗", DEMO)
    assert u.normalized == "买了个手机想分期，手续费怎么算？"
    assert u.sub_questions == ("能提前还吗",)  # shown as asked
    assert u.sub_searches == ("买了个手机想分期，能提前还吗",)  # the context before the question
    v = understand("分期手续费怎么算？另外能提前还吗", DEMO)
    assert v.sub_searches == ("分期手续费怎么算，能提前还吗",)  # no context: the first question
    w = understand("我的卡被冻结了，怎么解冻？另外积分怎么查？", DEMO)
    assert w.sub_searches == w.sub_questions == ("积分怎么查？",)  # a topic of its own
