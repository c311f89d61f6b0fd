"""Checks for the NLU entity patterns and training data.

Runs with plain pytest + PyYAML (no Rasa import). It mirrors what Rasa's
RegexEntityExtractor does at run time:

* every line of a ``regex:`` block is one pattern, applied with
  ``re.finditer(pattern, text, flags=re.IGNORECASE)`` (case_sensitive=False is
  the extractor default); the entity value is the whole match;
* a ``lookup:`` table becomes one alternation of the escaped elements (the
  extractor must be configured with ``use_word_boundaries: false``, because
  ``\\b`` never fires between two Chinese characters).

Besides positive/negative strings for each pattern, the tests check that the
annotations in the training data and the hold-out set agree exactly with what
the patterns extract, and that no example is duplicated.
"""

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NLU_DIR = ROOT / "nlu_data" / "nlu"
ENTITIES_FILE = NLU_DIR / "entities.yml"
SYNONYMS_FILE = ROOT / "nlu_data" / "synonyms.yml"
JIEBA_DICT = ROOT / "nlu_data" / "jieba" / "userdict.txt"
HOLDOUT_FILE = Path(__file__).resolve().parent / "data" / "nlu_holdout.yml"

ENTITY_NAMES = {
    "amount",
    "day",
    "date",
    "period",
    "card_last4",
    "id_last6",
    "points_item",
}

EXPECTED_INTENTS = {
    "greet", "goodbye", "thanks", "affirm", "deny", "bot_challenge",
    "chitchat", "out_of_scope", "other_bank_product", "request_human", "complain", "fraud_dispute",
    "none_of_these", "cancel", "inform", "faq", "check_bill",
    "query_statement_date", "repayment", "change_statement_date",
    "installment_bill", "installment_single", "check_points", "redeem_points",
    "check_credit_limit", "apply_temp_limit", "report_lost_card",
    "freeze_card", "activate_card", "annual_fee",
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _load(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _lines(block):
    """Split a Rasa ``examples: |`` block into its ``- item`` lines."""
    out = []
    for raw in block.splitlines():
        if not raw.strip():
            continue
        assert raw.startswith("- "), f"example line must start with '- ': {raw!r}"
        out.append(raw[2:].strip())
    return out


def _patterns(case_sensitive=False):
    """name -> list of compiled patterns, as RegexEntityExtractor builds them."""
    data = _load(ENTITIES_FILE)
    flags = 0 if case_sensitive else re.IGNORECASE
    pats = defaultdict(list)
    for item in data["nlu"]:
        if "regex" in item:
            for line in _lines(item["examples"]):
                pats[item["regex"]].append(re.compile(line, flags))
        elif "lookup" in item:
            elements = _lines(item["examples"])
            alternation = "|".join(re.escape(e) for e in elements)
            pats[item["lookup"]].append(re.compile(f"({alternation})", flags))
    return dict(pats)


PATTERNS = _patterns()
PATTERNS_CS = _patterns(case_sensitive=True)


def extract(text, patterns=None):
    """Return sorted (start, end, entity, value) tuples for ``text``."""
    patterns = PATTERNS if patterns is None else patterns
    found = set()
    for name, plist in patterns.items():
        for pat in plist:
            for m in pat.finditer(text):
                found.add((m.start(), m.end(), name, text[m.start():m.end()]))
    return sorted(found)


def pairs(text, patterns=None):
    return sorted((e, v) for _, _, e, v in extract(text, patterns))


ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<entity>[a-z_0-9]+)\)")


def parse_example(example):
    """Strip ``[value](entity)`` annotations -> (plain_text, [(s, e, ent, val)])."""
    plain, ents, pos = [], [], 0
    cursor = 0
    for m in ANNOTATION.finditer(example):
        chunk = example[pos:m.start()]
        plain.append(chunk)
        cursor += len(chunk)
        value = m.group("text")
        ents.append((cursor, cursor + len(value), m.group("entity"), value))
        plain.append(value)
        cursor += len(value)
        pos = m.end()
    plain.append(example[pos:])
    text = "".join(plain)
    assert "[" not in text and "](" not in text, f"broken annotation: {example!r}"
    return text, sorted(ents)


def intent_examples(path):
    """-> list of (intent, raw_example) from one Rasa NLU yaml file."""
    data = _load(path)
    out = []
    for item in data.get("nlu") or []:
        if "intent" in item:
            for line in _lines(item["examples"]):
                out.append((item["intent"], line))
    return out


def training_files():
    return sorted(NLU_DIR.glob("*.yml"))


def all_training_examples():
    out = []
    for f in training_files():
        out.extend((f.name, i, e) for i, e in intent_examples(f))
    return out


def normalise(text):
    """Loose key used to catch near-duplicates (punctuation/space/case)."""
    return re.sub(r"[\s，。！？、,.!?~～…:：；;“”\"'（）()]+", "", text).lower()


# --------------------------------------------------------------------------
# pattern tests: positives must yield exactly the listed entities
# --------------------------------------------------------------------------

POSITIVES = [
    # amount
    ("3000", [("amount", "3000")]),
    ("三千", [("amount", "三千")]),
    ("2.5万", [("amount", "2.5万")]),
    ("五百块", [("amount", "五百块")]),
    ("¥3,000", [("amount", "¥3,000")]),
    ("￥500", [("amount", "￥500")]),
    ("RMB 200", [("amount", "RMB 200")]),
    ("RMB 200元", [("amount", "RMB 200元")]),
    ("¥ 500元", [("amount", "¥ 500元")]),
    ("¥2.5万", [("amount", "¥2.5万")]),
    ("3千", [("amount", "3千")]),
    ("一万五", [("amount", "一万五")]),
    ("5万块", [("amount", "5万块")]),
    ("8000元", [("amount", "8000元")]),
    ("还了3,000元", [("amount", "3,000元")]),
    ("先还五千吧", [("amount", "五千")]),
    ("大概两万块钱", [("amount", "两万块钱")]),
    ("五十块", [("amount", "五十块")]),
    ("帮我还1500", [("amount", "1500")]),
    ("1.5w", [("amount", "1.5w")]),
    ("5K", [("amount", "5K")]),
    ("1万5", [("amount", "1万5")]),
    ("一千二", [("amount", "一千二")]),
    ("99.5元", [("amount", "99.5元")]),
    ("三千分12期", [("amount", "三千"), ("period", "12期")]),
    ("把那笔8000的分6期", [("amount", "8000"), ("period", "6期")]),
    ("临时额度提到3万", [("amount", "3万")]),
    # day
    ("15号", [("day", "15号")]),
    ("每月15号", [("day", "每月15号")]),
    ("每个月的10号", [("day", "每个月的10号")]),
    ("二十号", [("day", "二十号")]),
    ("改成二十号吧", [("day", "二十号")]),
    ("5日", [("day", "5日")]),
    ("改到20号", [("day", "20号")]),
    ("不对，改成20号", [("day", "20号")]),
    ("三十一号", [("day", "三十一号")]),
    ("账单日从5号改到25号", [("day", "25号"), ("day", "5号")]),
    # date
    ("下个月5号", [("date", "下个月5号")]),
    ("明天", [("date", "明天")]),
    ("本月底", [("date", "本月底")]),
    ("12月1号", [("date", "12月1号")]),
    ("下周三", [("date", "下周三")]),
    ("这个月", [("date", "这个月")]),
    ("上个月的账单", [("date", "上个月")]),
    ("月底前还清", [("date", "月底")]),
    ("十二月五号", [("date", "十二月五号")]),
    ("下个星期天", [("date", "下个星期天")]),
    ("周末", [("date", "周末")]),
    ("三天后", [("date", "三天后")]),
    ("年底", [("date", "年底")]),
    ("2024年3月15日", [("date", "2024年3月15日")]),
    ("下个月出国想临时提额到5万", [("amount", "5万"), ("date", "下个月")]),
    # period
    ("12期", [("period", "12期")]),
    ("十二期", [("period", "十二期")]),
    ("6期", [("period", "6期")]),
    ("分24期", [("period", "24期")]),
    ("二十四期", [("period", "二十四期")]),
    ("不是12期，是6期", [("period", "12期"), ("period", "6期")]),
    # card_last4
    ("尾号1234", [("card_last4", "1234")]),
    ("卡号后四位6789", [("card_last4", "6789")]),
    ("末四位 0021", [("card_last4", "0021")]),
    ("尾号是8821的卡", [("card_last4", "8821")]),
    ("卡尾号：3306", [("card_last4", "3306")]),
    ("后4位是 5566", [("card_last4", "5566")]),
    # id_last6
    ("身份证后六位12345X", [("id_last6", "12345X")]),
    ("身份证后六位12345x", [("id_last6", "12345x")]),
    ("后6位是203011", [("id_last6", "203011")]),
    ("520133", [("id_last6", "520133")]),
    ("45678X", [("id_last6", "45678X")]),
    (
        "卡号后四位6789，身份证后六位12345X",
        [("card_last4", "6789"), ("id_last6", "12345X")],
    ),
    # points_item
    ("里程", [("points_item", "里程")]),
    ("用积分换飞行里程", [("points_item", "飞行里程")]),
    ("兑换腾讯视频会员", [("points_item", "腾讯视频会员")]),
    ("积分换100元话费", [("amount", "100元"), ("points_item", "话费")]),
    ("用两万积分换电影票", [("points_item", "电影票")]),
    ("换个中石化加油卡", [("points_item", "中石化加油卡")]),
]


@pytest.mark.parametrize("text,expected", POSITIVES, ids=[p[0] for p in POSITIVES])
def test_positive_extracts_exactly(text, expected):
    assert pairs(text) == sorted(expected)


NEGATIVES = [
    # (text, entity that must NOT be found; None = no entity at all)
    ("12期", "amount"),
    ("15号", "amount"),
    ("二十号", "amount"),
    ("尾号1234", "amount"),
    ("卡号后四位6789", "amount"),
    ("身份证后六位12345X", "amount"),
    ("520133", "amount"),
    ("13812345678", "amount"),
    ("用2000积分换话费", "amount"),
    ("免息期最长56天", "amount"),
    ("24小时都能还款吗", None),
    ("逾期3天有影响吗", None),
    ("千万别给我分期", None),
    ("万一被盗刷了怎么办", None),
    ("2024年", "amount"),
    ("手续费0.6%", None),
    ("12月1号", "amount"),
    ("12月1号", "day"),
    ("下个月5号", "day"),
    ("这个月15号", "day"),
    ("十二月五号", "day"),
    ("本期账单", None),
    ("上期还清了", None),
    ("第3期扣款", None),
    ("每周三", "date"),
    ("本周期", "date"),
    ("星期几", None),
    ("5号线", None),
    ("尾号12345", "card_last4"),
    ("1234", "card_last4"),
    ("我的卡号是6222", "card_last4"),
    ("5201334", "id_last6"),
    ("身份证号码后六位是多少", None),
    ("你好", None),
    ("查一下我的账单", None),
    ("一块儿去吧", None),
]


@pytest.mark.parametrize(
    "text,entity", NEGATIVES, ids=[f"{t}-{e}" for t, e in NEGATIVES]
)
def test_negative_does_not_extract(text, entity):
    got = pairs(text)
    if entity is None:
        assert got == []
    else:
        assert entity not in {e for e, _ in got}, got


def test_patterns_do_not_depend_on_ignorecase():
    """Same results if someone sets case_sensitive: true on the extractor."""
    for text, expected in POSITIVES:
        assert pairs(text, PATTERNS_CS) == sorted(expected), text


def test_all_entities_have_patterns():
    assert set(PATTERNS) == ENTITY_NAMES


def test_lookup_elements_are_not_prefixes_of_each_other():
    data = _load(ENTITIES_FILE)
    (lookup,) = [i for i in data["nlu"] if "lookup" in i]
    elements = _lines(lookup["examples"])
    assert len(elements) == len(set(elements))
    for a in elements:
        for b in elements:
            assert a == b or not b.startswith(a), (a, b)


# --------------------------------------------------------------------------
# data tests
# --------------------------------------------------------------------------


def test_all_files_parse_and_declare_version():
    files = training_files() + [SYNONYMS_FILE, HOLDOUT_FILE]
    for f in files:
        data = _load(f)
        assert str(data["version"]) == "3.1", f
        assert isinstance(data["nlu"], list), f


def test_intents_present_with_enough_examples():
    counts = defaultdict(int)
    for _, intent, _ in all_training_examples():
        counts[intent] += 1
    assert set(counts) == EXPECTED_INTENTS
    assert counts["faq"] >= 120
    for intent in EXPECTED_INTENTS - {"faq"}:
        assert counts[intent] >= 20, intent


def test_training_examples_unique_across_files():
    seen = {}
    for fname, intent, raw in all_training_examples():
        text, _ = parse_example(raw)
        key = normalise(text)
        assert key not in seen, f"{text!r} in {intent} ({fname}) and {seen[key]}"
        seen[key] = (intent, fname)


def test_holdout_is_disjoint_and_covers_every_intent():
    train = {normalise(parse_example(raw)[0]) for _, _, raw in all_training_examples()}
    counts = defaultdict(int)
    seen = set()
    for intent, raw in intent_examples(HOLDOUT_FILE):
        key = normalise(parse_example(raw)[0])
        assert key not in train, f"holdout example also in training: {raw!r}"
        assert key not in seen, f"duplicate in holdout: {raw!r}"
        seen.add(key)
        counts[intent] += 1
    assert set(counts) == EXPECTED_INTENTS
    for intent in EXPECTED_INTENTS:
        assert counts[intent] >= 6, intent


def _annotated_files():
    return training_files() + [HOLDOUT_FILE]


@pytest.mark.parametrize("path", _annotated_files(), ids=lambda p: p.name)
def test_annotations_agree_with_patterns(path):
    """Every annotation is what the extractor finds, and nothing else."""
    problems = []
    for intent, raw in intent_examples(path):
        text, annotated = parse_example(raw)
        for _, _, ent, _ in annotated:
            assert ent in ENTITY_NAMES, f"unknown entity {ent} in {raw!r}"
        found = extract(text)
        if found != annotated:
            problems.append(f"{intent}: {raw!r} -> extractor gives {found}")
    assert not problems, "\n".join(problems)


def test_every_entity_is_annotated_somewhere():
    """Rasa only activates patterns whose name is an annotated entity."""
    used = set()
    for _, _, raw in all_training_examples():
        used.update(e for _, _, e, _ in parse_example(raw)[1])
    assert used == ENTITY_NAMES


def test_synonyms_map_extractable_values():
    data = _load(SYNONYMS_FILE)
    lookup = set()
    for item in _load(ENTITIES_FILE)["nlu"]:
        if "lookup" in item:
            lookup.update(_lines(item["examples"]))
    canon_seen = set()
    for item in data["nlu"]:
        assert "synonym" in item
        canon = item["synonym"]
        assert canon in lookup, canon
        canon_seen.add(canon)
        for surface in _lines(item["examples"]):
            assert surface in lookup, f"{surface} is never extracted"
            assert pairs(surface) == [("points_item", surface)]
    assert canon_seen == {"里程", "视频会员", "话费", "加油卡", "行李箱", "电影票"}


def test_jieba_userdict_format():
    words = []
    with open(JIEBA_DICT, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split(" ")
            assert len(parts) == 3, line
            word, freq, pos = parts
            assert freq.isdigit() and pos.isalpha(), line
            words.append(word)
    assert len(words) >= 120
    assert len(words) == len(set(words))
