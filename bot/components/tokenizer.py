"""Jieba tokenizer without whitespace tokens.

Rasa 3.6's JiebaTokenizer turns every space into a token (rasa#7910), so "APP 里 还款"
gets tokens " " that pollute the word features and shift entity offsets. This component
keeps Rasa's dictionary handling and drops whitespace-only tokens.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class CardJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer that never emits whitespace tokens."""

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenize with jieba and drop tokens that are only whitespace."""
        import jieba

        text = message.get(attribute)
        tokens = [
            Token(word, start)
            for (word, start, _end) in jieba.tokenize(text)
            if word.strip()
        ]
        return self._apply_token_pattern(tokens)
