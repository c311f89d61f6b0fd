"""Keep dialogue-act intents from swallowing questions (issue 14).

Runs after the intent classifier and the entity extractors, before the FallbackClassifier. Every
message gets its shape in the parse data (`message_shape`: question?, card words, content length,
and which intent was set aside, if any). When the classifier picked a dialogue act that the
shape rules out (bot.components.message_shape.GuardRules), the best-ranked intent that is not a
dialogue act takes its place with its own confidence, and the FallbackClassifier then decides
as usual: a low confidence becomes nlu_fallback, which the rules answer from the KB. The act
intents move to the end of the ranking so they cannot trigger the ambiguity check either.

The card-word list (nlu_data/card_terms.txt) is read at training time and stored in the model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import paths
from bot.components.message_shape import GuardRules, Lexicon, analyse

logger = logging.getLogger(__name__)

SHAPE_KEY = "message_shape"
FALLBACK_TARGET = "faq"
LEXICON_FILE = "lexicon.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class DialogueActGuard(GraphComponent, IntentClassifier):
    """Re-ranks away dialogue-act intents for messages shaped like questions."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Intent groups and lengths of GuardRules, and where the card words are."""
        rules = GuardRules()
        return {
            "terms_path": "nlu_data/card_terms.txt",
            "greeting_intents": sorted(rules.greetings),
            "closing_intents": sorted(rules.closings),
            "answer_intents": sorted(rules.answers),
            "value_intents": sorted(rules.values),
            "chat_intents": sorted(rules.chat),
            "long_question_chars": rules.long_question,
            "long_statement_chars": rules.long_statement,
            "long_value_statement_chars": rules.long_value_statement,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 lexicon: Lexicon | None = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self.lexicon = lexicon or Lexicon(())
        self.rules = GuardRules(
            greetings=frozenset(config["greeting_intents"]),
            closings=frozenset(config["closing_intents"]),
            answers=frozenset(config["answer_intents"]),
            values=frozenset(config["value_intents"]),
            chat=frozenset(config["chat_intents"]),
            long_question=int(config["long_question_chars"]),
            long_statement=int(config["long_statement_chars"]),
            long_value_statement=int(config["long_value_statement_chars"]),
        )

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> DialogueActGuard:
        """An untrained guard (no card words until `train` reads them)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Read the card-word list and store it with the model (the file may move later)."""
        path = Path(self._config["terms_path"])
        self.lexicon = Lexicon.load(path if path.is_absolute() else paths.ROOT / path)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / LEXICON_FILE).write_text(
                json.dumps({"terms": self.lexicon.terms, "lookalikes": self.lexicon.lookalikes},
                           ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> DialogueActGuard:
        """The guard with the card words stored at training time."""
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((directory / LEXICON_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.warning("DialogueActGuard has no stored card words; only question cues apply.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource,
                   Lexicon(tuple(data["terms"]), tuple(data["lookalikes"])))

    def process(self, messages: list[Message]) -> list[Message]:
        """Annotate each message's shape and set aside a dialogue act it rules out."""
        for message in messages:
            self._guard(message)
        return messages

    def _guard(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text or text.startswith("/"):  # button payloads name their intent
            return
        spans = [(int(e[ENTITY_ATTRIBUTE_START]), int(e[ENTITY_ATTRIBUTE_END]))
                 for e in message.get(ENTITIES) or []
                 if ENTITY_ATTRIBUTE_START in e and ENTITY_ATTRIBUTE_END in e]
        shape = analyse(text, self.lexicon, spans)
        annotation: dict[str, Any] = {**shape.as_dict(), "demoted_intent": None}
        intent = message.get(INTENT) or {}
        name = intent.get(INTENT_NAME_KEY)
        if name and self.rules.swallows(str(name), shape):
            ranking = list(message.get(INTENT_RANKING_KEY) or [])
            others = [r for r in ranking if r.get(INTENT_NAME_KEY) not in self.rules.guarded]
            acts = [r for r in ranking if r.get(INTENT_NAME_KEY) in self.rules.guarded]
            best = others[0] if others else {INTENT_NAME_KEY: FALLBACK_TARGET,
                                            PREDICTED_CONFIDENCE_KEY: 0.0}
            message.set(INTENT, {INTENT_NAME_KEY: best[INTENT_NAME_KEY],
                                 PREDICTED_CONFIDENCE_KEY: best[PREDICTED_CONFIDENCE_KEY]},
                        add_to_output=True)
            if ranking:
                message.set(INTENT_RANKING_KEY, others + acts, add_to_output=True)
            annotation["demoted_intent"] = name
            logger.debug("DialogueActGuard: %s set aside for %s", name, best[INTENT_NAME_KEY])
        message.set(SHAPE_KEY, annotation, add_to_output=True)
