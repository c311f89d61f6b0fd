"""The fixed jieba tokenizer: no whitespace tokens (rasa#7910) and the card dictionary works."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import paths
from bot.components.tokenizer import CardJiebaTokenizer


def make(cls, tmp_path, dictionary: bool):
    config = {**cls.get_default_config()}
    if dictionary:
        config["dictionary_path"] = str(paths.ROOT / "nlu_data" / "jieba")
    return cls.create(config, LocalModelStorage(tmp_path), Resource("tok"),
                      ExecutionContext(GraphSchema({}), "test"))


def words(tokenizer, text: str) -> list[str]:
    return [t.text for t in tokenizer.tokenize(Message({TEXT: text}), TEXT)]


TEXTS = ["APP 里 怎么 还款", "我的 卡号 尾号 1234", "  账单日  能改吗 ", "VIP\t贵宾厅\n怎么用"]


@pytest.mark.parametrize("text", TEXTS)
def test_rasa_stock_tokenizer_has_the_bug(tmp_path, text) -> None:
    # Guards the premise of the fix: if Rasa ever fixes #7910 this test tells us.
    assert any(not w.strip() for w in words(make(JiebaTokenizer, tmp_path, False), text))


@pytest.mark.parametrize("text", TEXTS)
def test_fixed_tokenizer_drops_whitespace_tokens(tmp_path, text) -> None:
    tokens = make(CardJiebaTokenizer, tmp_path, False).tokenize(Message({TEXT: text}), TEXT)
    assert tokens and all(t.text.strip() for t in tokens)
    # offsets still point at the token text in the original string
    for t in tokens:
        assert text[t.start:t.end] == t.text


def test_same_tokens_as_stock_apart_from_whitespace(tmp_path) -> None:
    text = "我想 把账单日 改到15号"
    stock = [w for w in words(make(JiebaTokenizer, tmp_path, False), text) if w.strip()]
    assert words(make(CardJiebaTokenizer, tmp_path, False), text) == stock


def test_card_dictionary_keeps_domain_words_whole(tmp_path) -> None:
    tok = make(CardJiebaTokenizer, tmp_path, True)
    for word in ["溢缴款", "临时额度", "最低还款额", "附属卡", "账单日"]:
        assert word in words(tok, f"请问{word}怎么处理"), word
