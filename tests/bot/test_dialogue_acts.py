"""Dialogue-act intents never swallow questions (issue 14): the message shape, the guard's rules,
the Rasa component, the training data's consistency with the rules, and the trained model."""

from __future__ import annotations

import asyncio

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import paths
from bot.components.dialogue_acts import SHAPE_KEY, DialogueActGuard
from bot.components.message_shape import GuardRules, Lexicon, analyse
from tests.bot.test_nlu_regex import HOLDOUT_FILE, intent_examples, parse_example, training_files

LEXICON = Lexicon.load(paths.ROOT / "nlu_data" / "card_terms.txt")
RULES = GuardRules()


def shape(text: str, spans: tuple[tuple[int, int], ...] = ()):
    return analyse(text, LEXICON, spans)


# -------------------------------------------------------------------------- message shape


@pytest.mark.parametrize("text", ["积分多久过期", "这样可以吗", "额度够不够呢，我想买手机",
                                  "哪位大神知道怎么提额", "求解答：年费怎么免", "账单日是几号？",
                                  "我能不能分期"])
def test_question_cues(text: str) -> None:
    assert shape(text).question


@pytest.mark.parametrize("text", ["好的", "不用了", "谢谢你", "尾号1234", "算了不办了", "吗啡",
                                  "是我本人"])
def test_no_question_cue(text: str) -> None:
    assert not shape(text).question


def test_card_terms_and_lookalikes() -> None:
    assert "卡" in shape("不想要这张卡了").card_terms
    assert shape("小卡你好").card_terms == ()  # the bot's own name is no card word
    assert {"美元", "消费"} <= set(shape("您好，美元消费怎么还").card_terms)
    assert shape("APP打不开").card_terms == ("app",)


def test_entity_values_are_not_content() -> None:
    text = "身份证后六位12345X"
    assert shape(text, ((6, 12),)).content_chars == 6
    assert shape("15号", ((0, 3),)).content_chars == 0
    # an ASCII word or number counts once, whatever its length
    assert shape("hello在吗").content_chars == 3


# -------------------------------------------------------------------------- the rules

SWALLOWED = [
    ("greet", "您好，我想问一下美元消费可以用人民币还吗"),
    ("greet", "进度显示待面签，我人在外地，能在这边的网点办吗"),
    ("greet", "你好，我的卡丢了"),
    ("greet", "您好，请问你们网点周末几点开门营业呢"),
    ("thanks", "谢谢，另外积分多久过期啊"),
    ("goodbye", "好的再见，对了临时额度怎么申请"),
    ("affirm", "好的，那分期以后能提前还吗"),
    ("deny", "不想要这张卡了怎么办"),
    ("cancel", "算了不分期了，提前还款要手续费吗"),
    ("inform", "9月5号的账单2000块，我能不能分期？"),
    ("inform", "我3号还了5000，怎么额度还没恢复呢"),
    ("deny", "没有收到卡，申请都快一个月了，物流一直没更新"),
    ("chitchat", "你觉得我该办金卡还是白金卡"),
    ("bot_challenge", "你是机器人吗，能帮我查账单吗"),
]


@pytest.mark.parametrize("intent,text", SWALLOWED)
def test_questions_are_taken_from_dialogue_acts(intent: str, text: str) -> None:
    assert RULES.swallows(intent, shape(text)), (intent, shape(text))


KEPT = [
    ("greet", "您好"), ("greet", "在吗"), ("greet", "您好，请问有人在吗"), ("greet", "小卡你好"),
    ("greet", "喂喂，听得到吗"),
    ("thanks", "好的，谢谢"), ("thanks", "谢谢，我的卡已经激活了"), ("goodbye", "没别的事了，再见"),
    ("affirm", "是"), ("affirm", "好的"), ("affirm", "可以的，办吧"), ("affirm", "是我本人"),
    ("affirm", "好的，确认办理分期"),
    ("deny", "不是"), ("deny", "不用了"), ("deny", "不是这张卡"), ("deny", "没有办过"),
    ("cancel", "不分期了"), ("cancel", "算了，等我想好再说"), ("cancel", "撤销刚才的申请"),
    ("inform", "改成15号可以吗"), ("inform", "尾号1234"), ("inform", "分12期"),
    ("chitchat", "给我讲个笑话"), ("bot_challenge", "你是真人客服还是机器人"),
]


@pytest.mark.parametrize("intent,text", KEPT)
def test_replies_stay_dialogue_acts(intent: str, text: str) -> None:
    assert not RULES.swallows(intent, shape(text)), (intent, shape(text))


def test_a_bare_value_with_a_card_statement_is_more_than_a_value() -> None:
    text = "不认识的商户扣了我899元"
    value = (text.index("899"), len(text))
    assert RULES.swallows("inform", shape(text, (value,)))
    assert not RULES.swallows("inform", shape("金额是6800", ((3, 7),)))
    assert not RULES.swallows("deny", shape(text, (value,)))  # a no needs a longer statement


def test_other_intents_are_never_touched() -> None:
    for intent in ("faq", "fraud_dispute", "check_bill", "request_human", "none_of_these"):
        assert not RULES.swallows(intent, shape("您好，美元消费怎么还款？"))


@pytest.mark.parametrize("path", [*training_files(), HOLDOUT_FILE], ids=lambda p: p.name)
def test_no_dialogue_act_example_is_ruled_out(path) -> None:
    # The guard and the data agree: an act the rules would take away could never be predicted.
    ruled_out = []
    for intent, raw in intent_examples(path):
        if intent in RULES.guarded:
            text, entities = parse_example(raw)
            if RULES.swallows(intent, shape(text, tuple((s, e) for s, e, _, _ in entities))):
                ruled_out.append((intent, text))
    assert not ruled_out


# -------------------------------------------------------------------------- the component


def guard(tmp_path) -> DialogueActGuard:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("guard")
    context = ExecutionContext(GraphSchema({}), "test")
    config = DialogueActGuard.get_default_config()
    DialogueActGuard.create(config, storage, resource, context).train(TrainingData())
    return DialogueActGuard.load(config, storage, resource, context)


def classified(text: str, ranking: list[tuple[str, float]],
               entities: list[dict] | None = None) -> Message:
    message = Message({"text": text})
    message.set("intent", {"name": ranking[0][0], "confidence": ranking[0][1]})
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking])
    message.set("entities", entities or [])
    return message


def test_component_sets_the_best_other_intent_and_keeps_its_confidence(tmp_path) -> None:
    message = classified("您好，我想问下美元消费怎么还", [("greet", 0.81), ("faq", 0.12),
                                                       ("affirm", 0.04), ("repayment", 0.03)])
    guard(tmp_path).process([message])
    assert message.get("intent") == {"name": "faq", "confidence": 0.12}
    assert [r["name"] for r in message.get("intent_ranking")] == [
        "faq", "repayment", "greet", "affirm"]
    assert message.get(SHAPE_KEY)["demoted_intent"] == "greet"
    assert "美元" in message.get(SHAPE_KEY)["card_terms"]
    assert SHAPE_KEY in message.as_dict(only_output_properties=True)


def test_component_leaves_replies_and_payloads_alone(tmp_path) -> None:
    component = guard(tmp_path)
    reply = classified("好的", [("affirm", 0.97), ("faq", 0.01)])
    value = classified("15号", [("inform", 0.9), ("faq", 0.05)],
                       [{"entity": "day", "value": "15号", "start": 0, "end": 3}])
    payload = classified('/faq{"kb_entry_id":"lost-001"}', [("faq", 1.0)])
    component.process([reply, value, payload])
    assert reply.get("intent")["name"] == "affirm"
    assert reply.get(SHAPE_KEY) == {"question": False, "card_terms": [], "content_chars": 2,
                                    "demoted_intent": None}
    assert value.get("intent")["name"] == "inform"
    assert value.get(SHAPE_KEY)["content_chars"] == 0
    assert payload.get(SHAPE_KEY) is None


def test_component_without_any_other_intent_falls_back_to_faq(tmp_path) -> None:
    message = classified("谢谢，另外积分多久过期啊", [("thanks", 0.9), ("greet", 0.1)])
    guard(tmp_path).process([message])
    # confidence 0: the FallbackClassifier after it makes this nlu_fallback, answered by the KB
    assert message.get("intent") == {"name": "faq", "confidence": 0.0}


# -------------------------------------------------------------------------- the trained model


@pytest.mark.parametrize("text", [
    "您好，我上个月在日本刷了3万日元，这个账单要怎么还",
    "好的，那账单分期最晚什么时候申请",
    "谢谢，顺便问一下年费怎么免",
    "10月15号的账单还了2000，剩下的会算利息吗",
    "不想要这张卡了要怎么弄",
])
def test_trained_model_does_not_swallow_real_questions(agent, text: str) -> None:
    parsed = asyncio.run(agent.parse_message(text))
    assert parsed["intent"]["name"] not in RULES.guarded, parsed["intent"]
    assert SHAPE_KEY in parsed


@pytest.mark.parametrize("text,intents", [
    ("好的", {"affirm"}), ("是的", {"affirm"}), ("不用了", {"deny", "cancel"}),
    ("您好", {"greet"}), ("谢谢", {"thanks"}), ("算了不办了", {"cancel"}),
])
def test_trained_model_keeps_plain_replies(agent, text: str, intents: set[str]) -> None:
    assert asyncio.run(agent.parse_message(text))["intent"]["name"] in intents


# -------------------------------------------------------------------------- English (issue 19)

EN_SWALLOWED = [
    ("greet", "hi, how do I raise my credit limit"),
    ("greet", "Hello, what is the annual fee?"),
    ("thanks", "thanks, and how long do points last?"),
    ("affirm", "ok, can I pay the bill in instalments?"),
    ("chitchat", "do you like my credit card"),
]


@pytest.mark.parametrize("intent,text", EN_SWALLOWED)
def test_english_questions_are_taken_from_dialogue_acts(intent: str, text: str) -> None:
    assert RULES.swallows(intent, shape(text)), (intent, shape(text))


EN_KEPT = [("greet", "hello"), ("greet", "good morning"), ("greet", "hi, anyone there?"),
           ("thanks", "thank you"), ("affirm", "yes please"), ("deny", "no thanks"),
           ("cancel", "forget it"), ("goodbye", "bye, have a nice day")]


@pytest.mark.parametrize("intent,text", EN_KEPT)
def test_english_replies_stay_dialogue_acts(intent: str, text: str) -> None:
    assert not RULES.swallows(intent, shape(text)), (intent, shape(text))


def test_english_card_words_match_at_word_starts() -> None:
    assert "fee" in shape("what is the fee").card_terms
    assert "fee" not in shape("I like coffee").card_terms
    assert "instal" in shape("installments please").card_terms
    assert shape("how do I pay").question and not shape("I see").question
    assert shape("hello there my friend").content_chars == 8  # an English word counts twice
